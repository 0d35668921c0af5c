#!/usr/bin/env python3
"""Draw the benchmark chart of docs/PERFORMANCE.md as a hand-written SVG (no matplotlib).

Input: the JSON lines of `witchbolt-bench --json` (one object per engine and workload with
"engine", "workload", "opsPerSecond"; a workload's "ratio" line, when present, gives
Witchbolt's bar: for durable commits run in turns it is the median of the runs' own ratios).
The chart shows, per workload,
each engine's throughput relative to LMDB (LMDB = 1.0), with Go bbolt's ratio to LMDB from
the peers' table (shared/reference/peers.md, measured on the same kind of machine) beside it
unless --no-bbolt is given.

Usage: scripts/bench-chart.py RESULTS.jsonl [-o docs/bench-chart.svg] [--title TEXT] [--no-bbolt] [--no-sync]
"""
import argparse
import json
import sys

WORKLOADS = ["seq-insert", "rnd-insert", "rnd-read", "seq-scan", "durable-commit"]

# Go bbolt v1.5.0 / LMDB 0.9.24, 1,000,000 keys of 8 bytes, 100-byte values, 1,000 puts a
# transaction, 10,000 durable commits: the "bbolt / LMDB" column of shared/reference/peers.md.
BBOLT_OVER_LMDB = {"seq-insert": 0.44, "rnd-insert": 0.67, "rnd-read": 0.78, "seq-scan": 0.55, "durable-commit": 0.89}

# The same with NoSync / MDB_NOSYNC for durable-commit (peers.md: 47,886 vs 198,028 commits/s).
BBOLT_OVER_LMDB_NOSYNC_COMMITS = 47886 / 198028

COLOURS = {"witchbolt": "#7b3fa0", "lmdb": "#9e9e9e", "bbolt (peers.md)": "#2f7fc1"}


def load(path):
    rates = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            if "engine" in obj and "workload" in obj:
                rates[(obj["engine"], obj["workload"])] = float(obj["opsPerSecond"])
            elif "ratio" in obj and "workload" in obj:
                rates[("ratio", obj["workload"])] = float(obj["ratio"])
    return rates


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chart(rates, title, with_bbolt, no_sync=False):
    workloads = [w for w in WORKLOADS if (("lmdb", w) in rates)]
    if not workloads:
        sys.exit("bench-chart: no LMDB results in the input (run witchbolt-bench --engine both --json)")
    series = ["witchbolt", "lmdb"] + (["bbolt (peers.md)"] if with_bbolt else [])
    values = {}
    for w in workloads:
        lmdb = rates[("lmdb", w)]
        values[("lmdb", w)] = 1.0
        if ("ratio", w) in rates:
            values[("witchbolt", w)] = rates[("ratio", w)]
        elif ("witchbolt", w) in rates and lmdb > 0:
            values[("witchbolt", w)] = rates[("witchbolt", w)] / lmdb
        if with_bbolt and w in BBOLT_OVER_LMDB:
            values[("bbolt (peers.md)", w)] = BBOLT_OVER_LMDB[w]
            if no_sync and w == "durable-commit":
                values[("bbolt (peers.md)", w)] = BBOLT_OVER_LMDB_NOSYNC_COMMITS
    top = max([1.0] + list(values.values())) * 1.15

    width, height = 820, 420
    left, right, top_margin, bottom = 60, 20, 60, 70
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    group_w = plot_w / len(workloads)
    bar_w = group_w * 0.8 / len(series)

    def y(v):
        return top_margin + plot_h - v / top * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15">{esc(title)}</text>']
    # Grid lines and the y axis, every 0.25.
    step = 0.25 if top <= 2 else 0.5
    v = 0.0
    while v <= top:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{"#444" if v == 0 else "#e0e0e0"}"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
        v += step
    out.append(f'<text x="16" y="{top_margin + plot_h / 2}" transform="rotate(-90 16 {top_margin + plot_h / 2})" text-anchor="middle">throughput relative to LMDB</text>')
    # The bars, with their values.
    for i, w in enumerate(workloads):
        x0 = left + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            if (s, w) not in values:
                continue
            val = values[(s, w)]
            x = x0 + j * bar_w
            out.append(f'<rect x="{x:.1f}" y="{y(val):.1f}" width="{bar_w - 2:.1f}" height="{y(0) - y(val):.1f}" fill="{COLOURS[s]}"/>')
            out.append(f'<text x="{x + (bar_w - 2) / 2:.1f}" y="{y(val) - 4:.1f}" text-anchor="middle" font-size="10">{val:.2f}</text>')
        out.append(f'<text x="{left + (i + 0.5) * group_w:.1f}" y="{y(0) + 18:.1f}" text-anchor="middle">{esc(w)}</text>')
    # The legend.
    lx = left
    for s in series:
        out.append(f'<rect x="{lx}" y="{height - 28}" width="12" height="12" fill="{COLOURS[s]}"/>')
        out.append(f'<text x="{lx + 16}" y="{height - 18}">{esc(s)}</text>')
        lx += 30 + 8 * len(s)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="JSON lines from witchbolt-bench --json")
    parser.add_argument("-o", "--output", default="docs/bench-chart.svg")
    parser.add_argument("--title", default="Witchbolt, LMDB and Go bbolt: throughput relative to LMDB (higher is better)")
    parser.add_argument("--no-bbolt", action="store_true", help="leave out Go bbolt's figures from peers.md")
    parser.add_argument("--no-sync", action="store_true", help="the results were measured with --no-sync: use peers.md's NoSync commit figures")
    args = parser.parse_args()
    svg = chart(load(args.results), args.title, not args.no_bbolt, args.no_sync)
    with open(args.output, "w") as f:
        f.write(svg)
    print(f"bench-chart: wrote {args.output}")


if __name__ == "__main__":
    main()
