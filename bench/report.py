#!/usr/bin/python3
"""Turn bench/results/latest.csv into the table of bench/README.md.

Usage: report.py --csv FILE [--machine TEXT] [--link TEXT] [--readme FILE]
                 [--no-readme]

Takes the median of every measure over the rounds run.sh made, prints the
table of vkdr against docker-registry with the targets and whether each is
met, and replaces the part of the README between the two marker lines
with it (unless --no-readme).
"""

import argparse
import csv
import statistics
import sys

BEGIN = "<!-- bench-results:begin -->"
END = "<!-- bench-results:end -->"
MIB_IN_KIB = 1024


def load(path):
    """Every value of the CSV, keyed by (system, metric)."""
    values = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["system"], row["metric"])
            values.setdefault(key, []).append(float(row["value"]))
    return values


class Table:
    def __init__(self, values):
        self.values = values
        self.rows = []
        self.notes = []

    def median(self, system, metric):
        got = self.values.get((system, metric))
        return statistics.median(got) if got else None

    def most(self, system, metric):
        got = self.values.get((system, metric))
        return max(got) if got else None

    def row(self, measure, reg, vkdr, reference="", target="", met=""):
        ratio = ""
        if reg and vkdr is not None:
            ratio = "%.2fx" % (vkdr / reg)
        self.rows.append(
            [measure, fmt(reg), fmt(vkdr), ratio, reference, target, met])

    def markdown(self):
        head = ["measure (median)", "docker-registry", "vkdr",
                "vkdr / docker-registry", "reference", "target", "met"]
        lines = ["| " + " | ".join(head) + " |",
                 "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append("| " + " | ".join(r) + " |")
        return "\n".join(lines)


def fmt(v):
    if v is None:
        return "n/a"
    if v == int(v):
        return "%d" % v
    if v >= 100:
        return "%.0f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def verdict(ok):
    if ok is None:
        return "not measured"
    return "yes" if ok else "**no**"


def build(values, link_rate):
    t = Table(values)
    m = t.median

    reg, vk, ng = (m("registry", "blob-rps"), m("vkdr", "blob-rps"),
                   m("nginx", "blob-rps"))
    ok = None if reg is None or vk is None else vk >= 3 * reg
    t.row("cached 1 MiB blobs, 32 conns, req/s", reg, vk,
          "nginx sendfile: %s" % fmt(ng), ">= 3x", verdict(ok))
    t.row("cached 1 MiB blobs, MiB/s", m("registry", "blob-mibps"),
          m("vkdr", "blob-mibps"),
          "nginx sendfile: %s" % fmt(m("nginx", "blob-mibps")))

    reg, vk = m("registry", "tag-rps"), m("vkdr", "tag-rps")
    ok = None if reg is None or vk is None else vk >= 20 * reg
    t.row("cached manifest by tag, req/s", reg, vk, "", ">= 20x",
          verdict(ok))
    t.row("upstream requests during a tag run",
          m("registry", "tag-upstream-requests"),
          m("vkdr", "tag-upstream-requests"))
    t.row("cached manifest by digest, req/s", m("registry", "digest-rps"),
          m("vkdr", "digest-rps"))
    t.row("p99 latency, 1 MiB blob, ms",
          ms(m("registry", "blob-p99")), ms(m("vkdr", "blob-p99")))

    for prefix, link in (("cold64", "loopback"), ("slow64", link_rate)):
        direct = m("direct", prefix + "-slowest")
        reg = m("registry", prefix + "-slowest")
        vk = m("vkdr", prefix + "-slowest")
        ok = None if vk is None or direct is None else vk <= 1.2 * direct
        t.row("cold 64 MiB over %s, 8 clients: slowest client, s" % link,
              reg, vk, "one direct download: %s" % fmt(direct),
              "<= 1.2x direct", verdict(ok))
        vk_gets = t.most("vkdr", prefix + "-upstream-gets")
        ok = None if vk_gets is None else vk_gets == 1
        t.row("cold 64 MiB over %s, 8 clients: upstream GETs "
              "(vkdr: the most of any round)" % link,
              m("registry", prefix + "-upstream-gets"), vk_gets, "", "1",
              verdict(ok))
    t.row("cold 256 MiB, 1 client: first byte, s",
          m("registry", "cold256-first-byte"), m("vkdr", "cold256-first-byte"))
    t.row("cold 256 MiB, 1 client: total, s", m("registry", "cold256-total"),
          m("vkdr", "cold256-total"),
          "direct: %s" % fmt(m("direct", "cold256-total")))

    t.row("RSS idle after start, MiB", mib(m("registry", "rss-idle")),
          mib(m("vkdr", "rss-idle")))
    t.row("RSS peak (VmHWM), cached loads, MiB",
          mib(m("registry", "rss-peak-cached")),
          mib(m("vkdr", "rss-peak-cached")))
    t.row("RSS peak (VmHWM), one cold round, MiB",
          mib(m("registry", "rss-peak-cold")),
          mib(m("vkdr", "rss-peak-cold")))
    reg_peak = peak(t, "registry")
    vk_peak = peak(t, "vkdr")
    ok = None if reg_peak is None or vk_peak is None else \
        vk_peak <= reg_peak / 4
    t.row("RSS peak (VmHWM) of all loads, MiB", mib(reg_peak), mib(vk_peak),
          "", "<= 0.25x", verdict(ok))

    for system in ("registry", "vkdr", "nginx"):
        errors = sum(sum(v) for (s, k), v in values.items()
                     if s == system and k.endswith("-errors"))
        if errors:
            t.notes.append("%s: %d failed requests in the wrk runs; its "
                           "rates above count only what wrk completed."
                           % (system, errors))
    return t


def ms(us):
    return None if us is None else us / 1000


def mib(kib):
    return None if kib is None else kib / MIB_IN_KIB


def peak(table, system):
    """The highest VmHWM SYSTEM reached in any phase, in KiB."""
    got = [v for v in (table.most(system, "rss-peak-cached"),
                       table.most(system, "rss-peak-cold")) if v is not None]
    return max(got) if got else None


def replace_readme(path, text):
    with open(path) as f:
        readme = f.read()
    start = readme.find(BEGIN)
    stop = readme.find(END)
    if start < 0 or stop < start:
        sys.exit("report.py: %s has no %s ... %s markers" % (path, BEGIN, END))
    readme = readme[:start + len(BEGIN)] + "\n" + text + "\n" + readme[stop:]
    with open(path, "w") as f:
        f.write(readme)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--csv", required=True)
    p.add_argument("--machine", default="")
    p.add_argument("--link", default="the slow link",
                   help="how to name the slow link in the table")
    p.add_argument("--readme")
    p.add_argument("--no-readme", action="store_true")
    args = p.parse_args()

    table = build(load(args.csv), args.link)
    text = ""
    if args.machine:
        text += "Measured %s.\n\n" % args.machine
    text += table.markdown() + "\n"
    for n in table.notes:
        text += "\n%s\n" % n
    print(text)
    if args.readme and not args.no_readme:
        replace_readme(args.readme, text)


if __name__ == "__main__":
    main()
