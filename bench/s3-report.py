#!/usr/bin/python3
"""Turn bench/results/s3.csv into the "S3 backend" table of bench/README.md.

Usage: s3-report.py --csv FILE [--machine TEXT] [--readme FILE] [--no-readme]

Takes the median of every measure over the rounds bench/s3.sh made (the
upstream GETs of a cold pull: the most of any round), prints one column
per configuration, and replaces the part of the README between the two
S3 marker lines with it (unless --no-readme).
"""

import argparse
import csv
import statistics
import sys

BEGIN = "<!-- s3-results:begin -->"
END = "<!-- s3-results:end -->"
CONFIGS = [("filesystem", "filesystem"), ("s3", "s3"),
           ("s3-local", "s3 + local tier"), ("s3-redirect", "s3 redirect")]


def load(path):
    """Every value of the CSV, keyed by (system, metric)."""
    values = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["system"], row["metric"])
            values.setdefault(key, []).append(float(row["value"]))
    return values


def fmt(v):
    if v is None:
        return "n/a"
    if v == int(v) and v < 100:
        return "%d" % v
    if v >= 100:
        return "%.0f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def table(values):
    def cells(metric, pick=statistics.median, scale=1.0):
        out = []
        for system, _ in CONFIGS:
            got = values.get((system, metric))
            out.append(fmt(pick(got) * scale) if got else "n/a")
        return out

    rows = [
        ("cached 1 MiB blobs, 32 conns (wrk), req/s", cells("blob-rps")),
        ("cached 1 MiB blobs, 32 conns (wrk), MiB/s", cells("blob-mibps")),
        ("cached 1 MiB blobs, 32 conns (wrk), p99 latency, ms",
         cells("blob-p99", scale=0.001)),
        ("cached 1 MiB blobs, one connection in sequence (curl -L), req/s",
         cells("seq-rps")),
        ("cached 1 MiB blobs, one connection in sequence (curl -L), MiB/s",
         cells("seq-mibps")),
        ("cached 256 MiB blob, one connection, s",
         cells("cached256-total")),
        ("cold 64 MiB, 8 clients at once: slowest client, s",
         cells("cold64-slowest")),
        ("cold 64 MiB, 8 clients at once: upstream GETs (most of any round)",
         cells("cold64-upstream-gets", pick=max)),
        ("RSS peak (VmHWM) during the cached loads, MiB",
         cells("rss-peak", scale=1 / 1024)),
    ]
    head = ["measure (median)"] + [label for _, label in CONFIGS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for measure, row in rows:
        lines.append("| " + " | ".join([measure] + row) + " |")
    errors = sum(sum(v) for (s, m), v in values.items()
                 if m == "blob-errors")
    if errors:
        lines.append("")
        lines.append("%d failed requests in the wrk runs; the rates count "
                     "only what wrk completed." % errors)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--machine", default="")
    ap.add_argument("--readme")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()

    text = table(load(args.csv))
    if args.machine:
        text = "Measured %s.\n\n%s" % (args.machine, text)
    print(text)
    if args.no_readme or not args.readme:
        return 0
    with open(args.readme) as f:
        readme = f.read()
    if BEGIN not in readme or END not in readme:
        print("s3-report.py: no %s ... %s in %s" % (BEGIN, END, args.readme),
              file=sys.stderr)
        return 1
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(args.readme, "w") as f:
        f.write(head + BEGIN + "\n" + text + "\n\n" + END + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
