#!/usr/bin/env python3
"""Pairs `<case>/spindle` with `<case>/floor` in a Google Benchmark JSON report and prints
a markdown table of medians and their ratio.

    build/native/benchmarks/spindle_bench_noise --benchmark_repetitions=5 \
        --benchmark_enable_random_interleaving=true --benchmark_format=json > noise.json
    scripts/bench_ratios.py noise.json [--limit 1.5]

Random interleaving runs spindle and floor repetitions alternately, so a slow spell of a
shared machine hits both sides of a ratio. Exits 1 when --limit is given and a ratio exceeds it.
"""
import argparse
import json
import statistics
from collections import defaultdict


def unit(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report")
    ap.add_argument("--limit", type=float)
    args = ap.parse_args()
    with open(args.report) as f:
        runs = json.load(f)["benchmarks"]
    times = defaultdict(list)  # (family, variant, args) -> cpu times in ns
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    # Every repetition when the report has them, else the medians (--benchmark_report_aggregates_only).
    has_iterations = any(r.get("run_type") == "iteration" for r in runs)
    for r in runs:
        if has_iterations and r.get("run_type") != "iteration":
            continue
        if not has_iterations and r.get("aggregate_name") != "median":
            continue
        family, variant, *rest = r["run_name"].split("/")
        times[(family, variant, "/".join(rest))].append(r["cpu_time"] * scale[r["time_unit"]])
    worst = 0.0
    print("| case | spindle | floor | ratio |\n|---|---|---|---|")
    def order(key):  # family, then the numeric arguments in order
        return key[0], [int(a.split(":")[-1]) if a.split(":")[-1].isdigit() else a for a in key[2].split("/")]

    for (family, variant, case), t in sorted(times.items(), key=lambda kv: order(kv[0])):
        if variant != "spindle" or (family, "floor", case) not in times:
            continue
        ours, floor = statistics.median(t), statistics.median(times[(family, "floor", case)])
        ratio = ours / floor
        worst = max(worst, ratio)
        print(f"| {family} {case.replace('/', ' ')} | {unit(ours)} | {unit(floor)} | {ratio:.2f} |")
    print(f"\nworst ratio {worst:.2f}")
    if args.limit is not None and worst > args.limit:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
