#!/usr/bin/python3
"""Turn bench/results/latest.csv into the table of bench/README.md.

Usage: report.py --csv FILE [--machine TEXT] [--link TEXT] [--readme FILE]
                 [--no-readme] [--svg FILE]

Takes the median of every measure over the rounds run.sh made, prints the
table of vkdr against docker-registry with the targets and whether each is
met, and replaces the part of the README between the two marker lines
with it (unless --no-readme). With --svg, also draws the latency of cached
1 MiB blobs against the number of connections as an SVG image.
"""

import argparse
import csv
import math
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
    t.row("cached 256 MiB blob, 1 connection, s",
          m("registry", "cached256-total"), m("vkdr", "cached256-total"),
          "nginx sendfile: %s" % fmt(m("nginx", "cached256-total")))
    direct = m("direct", "cold64-slowest")
    for n in (1, 64):
        prefix = "cold64-c%d" % n
        t.row("cold 64 MiB over loopback, %d client%s: slowest client, s"
              % (n, "s" if n > 1 else ""),
              m("registry", prefix + "-slowest"),
              m("vkdr", prefix + "-slowest"),
              "one direct download: %s" % fmt(direct))
        t.row("cold 64 MiB over loopback, %d client%s: upstream GETs "
              "(vkdr: the most of any round)" % (n, "s" if n > 1 else ""),
              m("registry", prefix + "-upstream-gets"),
              t.most("vkdr", prefix + "-upstream-gets"))
    t.row("cold 256 MiB, 1 client: first byte, s",
          m("registry", "cold256-first-byte"), m("vkdr", "cold256-first-byte"))
    t.row("cold 256 MiB, 1 client: total, s", m("registry", "cold256-total"),
          m("vkdr", "cold256-total"),
          "direct: %s" % fmt(m("direct", "cold256-total")))

    for client, name in (("skopeo", "skopeo copy"), ("ctr", "ctr pull")):
        for state in ("cold", "warm"):
            metric = "%s-%s" % (client, state)
            t.row("whole image (%s), %s, s" % (name, state),
                  m("registry", metric), m("vkdr", metric))
    t.row("start-up to the first GET /v2/ answered 200, s",
          m("registry", "startup"), m("vkdr", "startup"))

    t.row("RSS idle after start, MiB", mib(m("registry", "rss-idle")),
          mib(m("vkdr", "rss-idle")))
    t.row("RSS peak (VmHWM), cached loads, MiB",
          mib(m("registry", "rss-peak-cached")),
          mib(m("vkdr", "rss-peak-cached")))
    t.row("RSS peak (VmHWM), one cold round, MiB",
          mib(m("registry", "rss-peak-cold")),
          mib(m("vkdr", "rss-peak-cold")))
    t.row("RSS peak (VmHWM), scaling series (up to 1,000 conns), MiB",
          mib(m("registry", "rss-peak-scale")),
          mib(m("vkdr", "rss-peak-scale")))
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


def scaling(values):
    """The table of how cost grows with images and with connections."""
    t = Table(values)
    m = t.median
    for n in images_measured(values):
        t.row("manifest by tag over %s cached image%s, req/s"
              % (thousands(n), "s" if n > 1 else ""),
              m("registry", "tags%d-rps" % n), m("vkdr", "tags%d-rps" % n))
    for n in conns_measured(values):
        test = "conns%d" % n if n != 32 else "blob"
        t.row("cached 1 MiB blobs, %s conns, req/s" % thousands(n),
              m("registry", test + "-rps"), m("vkdr", test + "-rps"),
              "nginx: %s" % fmt(m("nginx", test + "-rps")))
        for pct in ("p50", "p99"):
            t.row("cached 1 MiB blobs, %s conns, %s latency, ms"
                  % (thousands(n), pct),
                  ms(m("registry", "%s-%s" % (test, pct))),
                  ms(m("vkdr", "%s-%s" % (test, pct))),
                  "nginx: %s" % fmt(ms(m("nginx", "%s-%s" % (test, pct)))))
    for system in ("registry", "vkdr", "nginx"):
        errors = sum(sum(v) for (s, k), v in values.items()
                     if s == system and k.endswith("-errors")
                     and (k.startswith("conns") or k.startswith("tags")))
        if errors:
            t.notes.append("%s: %d failed or timed-out requests in the "
                           "scaling runs (wrk's timeout: 30 s); its rates "
                           "and latencies count only what completed."
                           % (system, errors))
    return t


def numbered(values, prefix, suffix):
    got = set()
    for _, metric in values:
        if metric.startswith(prefix) and metric.endswith(suffix):
            middle = metric[len(prefix):-len(suffix)]
            if middle.isdigit():
                got.add(int(middle))
    return sorted(got)


def images_measured(values):
    return numbered(values, "tags", "-rps")


def conns_measured(values):
    got = numbered(values, "conns", "-rps")
    if got and ("vkdr", "blob-rps") in values:
        got = sorted(got + [32])
    return got


def thousands(n):
    return "{:,}".format(n)


def svg_plot(values, path):
    """Median p50 and p99 latency of cached 1 MiB blobs against the
    number of connections, both axes logarithmic, as a standalone SVG."""
    conns = conns_measured(values)
    if not conns:
        return
    series = []
    colours = {"registry": "#c0392b", "vkdr": "#2471a3", "nginx": "#7f8c8d"}
    names = {"registry": "docker-registry", "vkdr": "vkdr",
             "nginx": "nginx sendfile"}
    for system in ("registry", "vkdr", "nginx"):
        for pct in ("p50", "p99"):
            points = []
            for n in conns:
                test = "conns%d" % n if n != 32 else "blob"
                got = values.get((system, "%s-%s" % (test, pct)))
                if got:
                    points.append((n, statistics.median(got) / 1000))
            if points:
                series.append((system, pct, points))
    ys = [y for _, _, pts in series for _, y in pts if y > 0]
    if not ys:
        return
    width, height, left, right, top, bottom = 720, 440, 70, 190, 40, 50
    x0, x1 = math.log10(min(conns)), math.log10(max(conns))
    y0 = math.floor(math.log10(min(ys)))
    y1 = math.ceil(math.log10(max(ys)))
    if y1 == y0:
        y1 += 1
    if x1 == x0:
        x1 += 1

    def px(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * \
            (width - left - right)

    def py(y):
        y = max(y, 10 ** y0)
        return height - bottom - (math.log10(y) - y0) / (y1 - y0) * \
            (height - top - bottom)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="14">Cached 1 MiB blobs: latency '
           'against concurrent connections (medians)</text>' % left]
    for e in range(y0, y1 + 1):
        y = py(10 ** e)
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" '
                   'stroke="#ddd"/>' % (left, width - right, y, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s ms</text>'
                   % (left - 6, y + 4, fmt(10.0 ** e)))
    for n in conns:
        x = px(n)
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" '
                   'stroke="#ddd"/>' % (x, x, top, height - bottom))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                   % (x, height - bottom + 18, thousands(n)))
    out.append('<text x="%d" y="%d" text-anchor="middle">connections '
               '(wrk -c)</text>' % ((left + width - right) / 2,
                                    height - 12))
    for i, (system, pct, points) in enumerate(series):
        dash = ' stroke-dasharray="5,4"' if pct == "p50" else ""
        line = " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in points)
        out.append('<polyline points="%s" fill="none" stroke="%s" '
                   'stroke-width="2"%s/>' % (line, colours[system], dash))
        for x, y in points:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>'
                       % (px(x), py(y), colours[system]))
        ly = top + 10 + 20 * i
        lx = width - right + 15
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" '
                   'stroke-width="2"%s/>' % (lx, lx + 25, ly, ly,
                                             colours[system], dash))
        out.append('<text x="%d" y="%d">%s %s</text>'
                   % (lx + 32, ly + 4, names[system], pct))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def ms(us):
    return None if us is None else us / 1000


def mib(kib):
    return None if kib is None else kib / MIB_IN_KIB


def peak(table, system):
    """The highest VmHWM SYSTEM reached in any phase, in KiB."""
    got = [v for v in (table.most(system, "rss-peak-cached"),
                       table.most(system, "rss-peak-cold"),
                       table.most(system, "rss-peak-scale"))
           if v is not None]
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
    p.add_argument("--svg", help="where to draw the latency plot")
    args = p.parse_args()

    values = load(args.csv)
    table = build(values, args.link)
    text = ""
    if args.machine:
        text += "Measured %s.\n\n" % args.machine
    text += table.markdown() + "\n"
    for n in table.notes:
        text += "\n%s\n" % n
    scale = scaling(values)
    if scale.rows:
        text += ("\nHow cost grows (medians of the scaling series, "
                 "wrk -t2; the\n32-connection figures are those of the "
                 "table above):\n\n")
        text += scale.markdown() + "\n"
        for n in scale.notes:
            text += "\n%s\n" % n
    if args.svg:
        svg_plot(values, args.svg)
    print(text)
    if args.readme and not args.no_readme:
        replace_readme(args.readme, text)


if __name__ == "__main__":
    main()
