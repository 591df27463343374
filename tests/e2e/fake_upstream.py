#!/usr/bin/python3
"""A registry stand-in for the failures a real registry cannot be asked for.

Usage: fake_upstream.py --port PORT --layout DIR --control DIR --log FILE

It answers the pull API (GET and HEAD of /v2/, manifests and blobs) from an
OCI image layout as make_image.py writes it: blobs by digest from
blobs/sha256/, tags from the ref.name annotations of index.json. Any
repository name is accepted.

How it answers a reference is read from the control directory on every
request, so a test changes behaviour by writing a file, with no restart. The
file is named after the reference (the hex of a digest, or the tag);
"default" applies to references without a file of their own. Its first line:

  ok                 answer normally (the same as no file)
  corrupt            right length and headers, wrong bytes
  stall              send headers and half the body, then hang until the
                     client closes the connection
  trickle SECONDS    send headers, then one body byte every SECONDS (a
                     fraction is fine), never the last one, until the
                     client closes the connection; the control file is
                     read again after every byte, so a test can slow a
                     transfer down, or speed it up, while it runs
  status CODE [S]    answer CODE with a JSON error; Retry-After: S if given

Every request is appended to the log file as "METHOD TARGET" and flushed
before the answer is sent, so a test that has its response can count it.
A stalled or trickled answer adds "CLOSED METHOD TARGET" once its client
hangs up.
Only ever bind it to a loopback address.
"""

import argparse
import hashlib
import json
import os
import select
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERROR_CODES = {
    401: "UNAUTHORIZED",
    404: "NAME_UNKNOWN",
    405: "UNSUPPORTED",
    429: "TOOMANYREQUESTS",
}


class Registry:
    """The layout, the control directory and the request log."""

    def __init__(self, layout, control, log):
        self.layout = layout
        self.control = control
        self.log_file = open(log, "a", buffering=1)
        self.log_lock = threading.Lock()

    def log(self, line):
        with self.log_lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()
            os.fsync(self.log_file.fileno())

    def mode(self, ref):
        """The control line for REF as a list of words."""
        for name in (ref.replace("sha256:", ""), "default"):
            path = os.path.join(self.control, name)
            try:
                with open(path) as f:
                    words = f.readline().split()
            except FileNotFoundError:
                continue
            return words or ["ok"]
        return ["ok"]

    def blob(self, digest):
        """The bytes stored for DIGEST, or None."""
        if not digest.startswith("sha256:"):
            return None
        hexd = digest[len("sha256:"):]
        if len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
            return None
        try:
            with open(os.path.join(self.layout, "blobs", "sha256", hexd),
                      "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def tag(self, tag):
        """The digest the layout's index.json gives TAG, or None."""
        try:
            with open(os.path.join(self.layout, "index.json")) as f:
                index = json.load(f)
        except FileNotFoundError:
            return None
        for desc in index.get("manifests", []):
            ann = desc.get("annotations", {})
            if ann.get("org.opencontainers.image.ref.name") == tag:
                return desc["digest"]
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-upstream"

    def log_message(self, fmt, *args):
        pass

    def error(self, status, message, retry_after=None):
        body = json.dumps({"errors": [{
            "code": ERROR_CODES.get(status, "UNKNOWN"),
            "message": message,
            "detail": None,
        }]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_content(self, data, digest, media_type, mode):
        """Answer with DATA, altered as the control line MODE says."""
        if mode[0] == "status":
            code = int(mode[1])
            self.error(code, "injected failure",
                       mode[2] if len(mode) > 2 else None)
            return
        self.send_response(200)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command == "HEAD":
            return
        if mode[0] == "corrupt":
            # Same length, every byte changed: the digest cannot match.
            self.wfile.write(bytes(b ^ 0x5A for b in data))
        elif mode[0] == "stall":
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.hang_until_closed()
        elif mode[0] == "trickle":
            self.trickle_until_closed(data, digest)
        else:
            self.wfile.write(data)

    def hang_until_closed(self):
        """Send nothing more until the client closes the connection, then
        log "CLOSED METHOD TARGET" so a test can see that it gave up."""
        sock = self.connection
        while True:
            readable, _, _ = select.select([sock], [], [], 1.0)
            if not readable:
                continue
            try:
                if not sock.recv(4096):
                    break
            except OSError:
                break
        self.server.registry.log("CLOSED %s %s" % (self.command, self.path))
        self.close_connection = True

    def trickle_until_closed(self, data, ref):
        """Send DATA a byte at a time, at the pace the control line for
        REF says, until the client closes the connection; then log it as
        hang_until_closed() does."""
        reg = self.server.registry
        sock = self.connection
        sent = 0
        while True:
            mode = reg.mode(ref)
            try:
                pause = float(mode[1]) if mode[0] == "trickle" else 1.0
            except (IndexError, ValueError):
                pause = 1.0
            readable, _, _ = select.select([sock], [], [], pause)
            if readable:
                try:
                    if not sock.recv(4096):
                        break
                except OSError:
                    break
                continue
            if mode[0] != "trickle" or sent >= len(data) - 1:
                continue
            try:
                sock.sendall(data[sent:sent + 1])
            except OSError:
                break
            sent += 1
        reg.log("CLOSED %s %s" % (self.command, self.path))
        self.close_connection = True

    def do_GET(self):
        reg = self.server.registry
        reg.log("%s %s" % (self.command, self.path))
        path = self.path.split("?", 1)[0]

        if path in ("/v2", "/v2/"):
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Docker-Distribution-API-Version",
                             "registry/2.0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return

        parts = path.split("/")
        if len(parts) < 5 or parts[1] != "v2" or \
                parts[-2] not in ("blobs", "manifests"):
            self.error(404, "unknown path")
            return
        kind, ref = parts[-2], parts[-1]
        mode = reg.mode(ref)

        if kind == "manifests" and not ref.startswith("sha256:"):
            digest = reg.tag(ref)
            if digest is None:
                self.error(404, "unknown tag")
                return
            if mode[0] == "status":
                self.send_content(b"", digest, "", mode)
                return
            mode = reg.mode(digest)
            ref = digest

        data = reg.blob(ref)
        if data is None:
            self.error(404, "unknown " + kind[:-1])
            return
        # The layout's own digest is checked so a broken fixture is
        # reported as such, not as a mirror failure.
        if "sha256:" + hashlib.sha256(data).hexdigest() != ref:
            self.error(500, "layout blob does not match its digest")
            return
        if kind == "manifests":
            media_type = json.loads(data).get("mediaType",
                                              "application/json")
        else:
            media_type = "application/octet-stream"
        self.send_content(data, ref, media_type, mode)

    do_HEAD = do_GET

    def refuse(self):
        self.server.registry.log("%s %s" % (self.command, self.path))
        self.error(405, "the fake upstream only serves pulls")

    do_PUT = do_POST = do_PATCH = do_DELETE = refuse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--layout", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    os.makedirs(args.control, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.registry = Registry(args.layout, args.control, args.log)
    server.serve_forever()


if __name__ == "__main__":
    main()
