#!/usr/bin/python3
"""Hold many connections to a server open, doing nothing useful with them.

Usage: hold_connections.py --port PORT --idle N --slow N --ready FILE

IDLE connections each send a request line and one header, then nothing:
the server waits for the rest of the request. SLOW connections send a
request one byte at a time, a byte every tenth of a second, with a header
too long to ever finish (a slowloris client). Once every connection was
attempted, FILE is written with one line: "open COUNT", COUNT being the
connections that were established (a server at its limit may still close
some of them at once). The program then holds them until it is killed,
and exits 1 at once if none could be opened.
Only ever point it at a loopback address.
"""

import argparse
import asyncio
import os

REQUEST = b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"


async def idle(port, held):
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(REQUEST)
    await writer.drain()
    held.append(writer)


async def slow(port, held):
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    held.append(writer)
    request = REQUEST + b"X-Slow: " + b"s" * 1000000
    for i in range(len(request)):
        writer.write(request[i:i + 1])
        await writer.drain()
        await asyncio.sleep(0.1)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--idle", type=int, default=0)
    ap.add_argument("--slow", type=int, default=0)
    ap.add_argument("--ready", required=True)
    args = ap.parse_args()

    held = []
    results = await asyncio.gather(
        *(idle(args.port, held) for _ in range(args.idle)),
        return_exceptions=True)
    failed = sum(1 for r in results if isinstance(r, Exception))
    slow_tasks = [asyncio.ensure_future(slow(args.port, held))
                  for _ in range(args.slow)]
    while len(held) + failed < args.idle + args.slow:
        failed = sum(1 for r in results if isinstance(r, Exception)) + \
            sum(1 for t in slow_tasks if t.done() and t.exception())
        await asyncio.sleep(0.1)
    if not held:
        raise SystemExit(1)
    with open(args.ready + ".new", "w") as f:
        f.write("open %d\n" % len(held))
    os.rename(args.ready + ".new", args.ready)
    await asyncio.gather(*slow_tasks, return_exceptions=True)
    while True:
        await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main())
