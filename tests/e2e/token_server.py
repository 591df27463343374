#!/usr/bin/python3
"""A Docker token server for the end-to-end tests, and a stand-in CDN.

Usage: token_server.py --port PORT --key KEY --cert CERT --log FILE
                       --issuer NAME --service NAME --expires-in SECONDS
                       [--user USER --password PASS] [--private PREFIX]
                       [--blob-addr ADDR --blob-port PORT --blob-root DIR
                        --blob-auth-flag FILE]

GET /token?service=...&scope=... answers {"token", "access_token",
"expires_in", "issued_at"} the way a registry's token endpoint does. The
token is a JWT signed RS256 with KEY (through the openssl command line);
its header carries CERT as an x5c chain, which is how the registry, given
CERT as its root bundle, knows the key.

Who gets what: a request with Basic credentials equal to --user and
--password gets every action it asks for; one with other credentials is
answered 401; an anonymous one gets "pull" on any repository that does not
start with PREFIX (--private) and nothing otherwise, the way a registry
with public and private repositories behaves.

With --blob-port, a second listener on --blob-addr serves the files under
--blob-root read-only. It stands for the CDN a registry redirects blob
downloads to (the registry's redirect storage middleware sends the
driver's path), so it must never see the registry's Authorization header.
While the file --blob-auth-flag exists, the stand-in also wants a token of
its own, as some redirect targets do: a request without one is answered
401 with a Bearer challenge whose realm is /cdn-token on the token
server, which hands an opaque "cdn-..." token to anyone. Credentials sent
there would be the registry's credentials leaking to another host.

Every request is appended to the log file before it is answered, one line
of space-separated KEY=VALUE words (values percent-encoded):
  token time=T service=S scope=S... user=U|- result=CODE exp=T
  cdntoken time=T service=S scope=S... user=U|- result=CODE exp=T
  blob method=M path=P authorization=no|cdn|other result=CODE
Only ever bind it to loopback addresses.
"""

import argparse
import base64
import json
import os
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def quote(value):
    return urllib.parse.quote(value, safe="/:@,")


class Log:
    """One line per request, flushed before the answer goes out."""

    def __init__(self, path):
        self.file = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def write(self, kind, **words):
        line = " ".join([kind] + ["%s=%s" % (k, v) for k, v in
                                  words.items()])
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()
            os.fsync(self.file.fileno())


class Issuer:
    """Signs tokens with the test's key."""

    def __init__(self, args):
        self.args = args
        with open(args.cert) as f:
            pem = f.read()
        body = pem.split("-----BEGIN CERTIFICATE-----")[1]
        body = body.split("-----END CERTIFICATE-----")[0]
        # The PEM body is the base64 of the DER certificate: what x5c holds.
        self.x5c = "".join(body.split())

    def sign(self, data):
        out = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.args.key],
            input=data, stdout=subprocess.PIPE, check=True)
        return out.stdout

    def token(self, subject, access, now):
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self.x5c]}
        claims = {
            "iss": self.args.issuer,
            "sub": subject,
            "aud": self.args.service,
            "exp": now + self.args.expires_in,
            "nbf": now - 1,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signed = (b64url(json.dumps(header).encode()) + "." +
                  b64url(json.dumps(claims).encode()))
        return signed + "." + b64url(self.sign(signed.encode()))


def parse_scope(scope):
    """"repository:NAME:a,b" -> (type, NAME, [a, b]), or None."""
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not name:
        return None
    return kind, name, [a for a in actions.split(",") if a]


class TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "token-server"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, extra=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def credentials(self):
        """(user, password) from a Basic Authorization, or None."""
        value = self.headers.get("Authorization", "")
        scheme, _, blob = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            pair = base64.b64decode(blob.strip(), validate=True).decode()
        except ValueError:
            return ("", "")
        user, _, password = pair.partition(":")
        return (user, password)

    def do_GET(self):
        srv = self.server
        args = srv.args
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        service = query.get("service", [""])[0]
        scopes = query.get("scope", [])
        creds = self.credentials()
        now = int(time.time())
        words = {
            "time": "%.3f" % time.time(),
            "service": quote(service),
            "scope": quote(" ".join(scopes)),
            "user": quote(creds[0]) if creds else "-",
        }

        if url.path == "/cdn-token":
            token = "cdn-" + uuid.uuid4().hex
            srv.log.write("cdntoken", result=200,
                          exp=now + args.expires_in, **words)
            self.answer(200, {"token": token,
                              "expires_in": args.expires_in})
            return
        if url.path != "/token":
            srv.log.write("token", result=404, exp=0, **words)
            self.answer(404, {"errors": [{"code": "NOT_FOUND"}]})
            return
        if creds is not None and creds != (args.user, args.password):
            srv.log.write("token", result=401, exp=0, **words)
            self.answer(401, {"errors": [{
                "code": "UNAUTHORIZED",
                "message": "incorrect username or password",
            }]}, [("WWW-Authenticate", 'Basic realm="token-server"')])
            return

        access = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            kind, name, actions = parsed
            if creds is None:
                if args.private and name.startswith(args.private):
                    actions = []
                else:
                    actions = [a for a in actions if a == "pull"]
            access.append({"type": kind, "name": name,
                           "actions": actions})
        token = srv.issuer.token(creds[0] if creds else "", access, now)
        srv.log.write("token", result=200, exp=now + args.expires_in,
                      **words)
        self.answer(200, {
            "token": token,
            "access_token": token,
            "expires_in": args.expires_in,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                       time.gmtime(now)),
        })


class BlobHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "blob-host"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        srv = self.server
        path = urllib.parse.urlsplit(self.path).path
        value = self.headers.get("Authorization")
        if value is None:
            auth = "no"
        elif value.startswith("Bearer cdn-"):
            auth = "cdn"
        else:
            auth = "other"
        challenge = None
        if srv.auth_flag and os.path.exists(srv.auth_flag) and \
                auth != "cdn":
            challenge = ('Bearer realm="%s",service="blob-host"' %
                         srv.cdn_realm)
        root = os.path.realpath(srv.root)
        full = os.path.realpath(os.path.join(root, path.lstrip("/")))
        data = None
        if challenge:
            status = 401
        elif full.startswith(root + os.sep) and os.path.isfile(full):
            with open(full, "rb") as f:
                data = f.read()
            status = 200
        else:
            status = 404
        srv.log.write("blob", method=self.command, path=quote(path),
                      authorization=auth, result=status)
        data = data if data is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        if challenge:
            self.send_header("WWW-Authenticate", challenge)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_HEAD = do_GET


def serve(addr, port, handler, log, **attrs):
    server = ThreadingHTTPServer((addr, port), handler)
    server.daemon_threads = True
    server.log = log
    for name, value in attrs.items():
        setattr(server, name, value)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--expires-in", type=int, default=300)
    ap.add_argument("--user", default=None)
    ap.add_argument("--password", default=None)
    ap.add_argument("--private", default=None)
    ap.add_argument("--blob-addr", default="127.0.0.2")
    ap.add_argument("--blob-port", type=int, default=0)
    ap.add_argument("--blob-root", default=None)
    ap.add_argument("--blob-auth-flag", default=None)
    args = ap.parse_args()

    log = Log(args.log)
    threads = [serve("127.0.0.1", args.port, TokenHandler, log, args=args,
                     issuer=Issuer(args))]
    if args.blob_port:
        threads.append(serve(
            args.blob_addr, args.blob_port, BlobHandler, log,
            root=args.blob_root, auth_flag=args.blob_auth_flag,
            cdn_realm="http://127.0.0.1:%d/cdn-token" % args.port))
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
