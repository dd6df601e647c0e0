#!/usr/bin/env python3
"""Instructions per iteration of each spindle_bench_noise case, spindle next to its floor.

Wall-clock ratios on a shared VM move by tens of percent between runs; instruction counts under
callgrind repeat exactly. Each case runs twice with a fixed iteration count (--iterations=N, a flag
of spindle_bench_noise) and the difference of the two totals, divided by the difference of N,
removes set-up and start-up. valgrind does not run AVX-512 code: build the benchmark for a
valgrind-friendly target, e.g.
  cmake -S . -B build/v3 -DCMAKE_BUILD_TYPE=Release -DSPINDLE_BUILD_TESTS=OFF \\
        -DSPINDLE_BUILD_EXAMPLES=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v3
  cmake --build build/v3 --target spindle_bench_noise
  scripts/bench_instructions.py build/v3/benchmarks/spindle_bench_noise [filter regex]
Instruction counts are not time (a division or a log costs more than an add), so read them next to
scripts/bench_ratios.py's wall-clock table, not instead of it.
"""
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile


def instructions(binary, case, iterations):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary,
             f"--iterations={iterations}", f"--benchmark_filter=^{re.escape(case)}/iterations:"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    return int(line.split()[1])
    raise RuntimeError(f"no totals in callgrind output for {case}")


def iteration_counts(case):
    big = "B:256" in case
    # Lattice's full-covariance rows cost 1-100 M instructions per call (a minute or more per call at
    # B 256 under valgrind): a few calls give the exact difference (callgrind's counts repeat).
    if case.startswith(("lattice", "lowrank")):
        return (1, 4) if big else (3, 13)
    return (3, 23) if big else (100, 1100)


def per_iteration(binary, case):
    lo, hi = iteration_counts(case)
    return (instructions(binary, case, hi) - instructions(binary, case, lo)) / (hi - lo)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    pattern = re.compile(sys.argv[2]) if len(sys.argv) > 2 else None
    listed = subprocess.run([binary, "--benchmark_list_tests"], check=True, capture_output=True, text=True).stdout
    cases = [c for c in listed.split() if pattern is None or pattern.search(c)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = dict(zip(cases, pool.map(lambda c: per_iteration(binary, c), cases)))
    print("| case | spindle | floor | ratio |\n|---|---|---|---|")
    worst = 0.0
    for case, n in counts.items():
        head, rest = case.split("/", 1)
        kind, shape = rest.split("/", 1)
        if kind != "spindle" or f"{head}/floor/{shape}" not in counts:
            continue
        floor = counts[f"{head}/floor/{shape}"]
        ratio = n / floor
        worst = max(worst, ratio)
        print(f"| {head} {shape.replace('/', ' ')} | {n:,.0f} | {floor:,.0f} | {ratio:.2f} |")
    print(f"\nworst ratio {worst:.2f} (instructions per iteration)")


if __name__ == "__main__":
    main()
