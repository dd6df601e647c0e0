#!/usr/bin/env python3
"""spindle against RLtools on their Pendulum benchmarks, in one run, interleaved.

Builds spindle's two training benchmarks (spindle_bench_sac_pendulum, spindle_bench_ppo_pendulum)
and RLtools' harnesses (../shared/peers/rltools/build.sh, OpenBLAS with the kernels the CPU can
run), then runs spindle, RLtools, spindle, RLtools, ... over the seeds, one thread each, and prints
the median training times, the median returns and the ratio spindle / RLtools.

    scripts/compare_rltools.py                      # -march=native on both sides
    scripts/compare_rltools.py --march x86-64-v3    # AVX2 on both sides (OpenBLAS Haswell kernels)

Every binary's last line is "result: steps=<n> train_seconds=<t> eval_return=<r>".
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd, env=None, quiet=False):
    out = subprocess.run(cmd, env=env, check=True, text=True,
                         stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT if quiet else None)
    return out.stdout if quiet else None


def cpu_model():
    for line in subprocess.run(["lscpu"], text=True, stdout=subprocess.PIPE).stdout.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def has_avx512():
    flags = Path("/proc/cpuinfo").read_text()
    return all(f" {f}" in flags for f in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))


def build_spindle(build_dir, march):
    flags = ["-DSPINDLE_NATIVE=ON"] if march == "native" else ["-DSPINDLE_NATIVE=OFF", f"-DCMAKE_CXX_FLAGS=-march={march}"]
    run(["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release", "-DSPINDLE_BUILD_TESTS=OFF",
         "-DSPINDLE_BUILD_EXAMPLES=OFF", *flags], quiet=True)
    run(["cmake", "--build", str(build_dir), "-j2", "--target", "spindle_bench_sac_pendulum", "spindle_bench_ppo_pendulum"],
        quiet=True)
    return {alg: build_dir / "benchmarks" / f"spindle_bench_{alg}_pendulum" for alg in ("sac", "ppo")}


def build_rltools(shared, out_dir, march):
    env = dict(os.environ, MARCH=march)
    run([str(shared / "peers" / "rltools" / "build.sh"), str(out_dir)], env=env, quiet=True)
    return {alg: out_dir / f"{alg}_pendulum" for alg in ("sac", "ppo")}


def openblas_core(binary, env):
    """The kernel set OpenBLAS reports it runs (OPENBLAS_VERBOSE=2 prints "Core: <name>" at start)."""
    out = run([str(binary), "--seed", "0"], env=dict(env, OPENBLAS_VERBOSE="2"), quiet=True)
    m = re.search(r"Core: (\S+)", out)
    return m.group(1) if m else "unknown"


def result(binary, seed, env):
    out = run([str(binary), "--seed", str(seed)], env=env, quiet=True)
    m = re.search(r"result: steps=(\d+) train_seconds=([\d.]+) eval_return=(-?[\d.]+)", out)
    if not m:
        sys.exit(f"{binary}: no result line in its output:\n{out}")
    return float(m.group(2)), float(m.group(3))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--march", default="native", help="native or x86-64-v3 (both sides)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--openblas-core", help="OpenBLAS kernels for RLtools (default: SkylakeX with -march=native "
                   "on an AVX-512 CPU, else Haswell)")
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    p.add_argument("--work", type=Path, default=ROOT / "build" / "compare_rltools")
    a = p.parse_args()
    if not (a.shared / "peers" / "rltools" / "build.sh").exists():
        sys.exit(f"RLtools' harnesses not found under {a.shared}/peers/rltools (pass --shared)")
    tag = a.march.replace("-", "_")
    spindle = build_spindle(a.work / f"spindle_{tag}", a.march)
    rltools = build_rltools(a.shared, a.work / f"rltools_{tag}", a.march)

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    # OpenBLAS's kernels set explicitly, overriding the environment: Debian's 0.3.21 does not know
    # recent CPUs (an AMD Zen 5 gets its Haswell kernels, an Emerald Rapids its SSE3 fallback), and
    # the harness's own switch to SkylakeX only happens when OPENBLAS_CORETYPE is unset — a machine
    # that exports OPENBLAS_CORETYPE=Haswell would silently run RLtools on AVX2 kernels.
    env["OPENBLAS_CORETYPE"] = a.openblas_core or ("SkylakeX" if a.march == "native" and has_avx512() else "Haswell")
    core = openblas_core(rltools["ppo"], env)
    if core.lower() != env["OPENBLAS_CORETYPE"].lower():
        sys.exit(f"OpenBLAS runs its {core} kernels, not the {env['OPENBLAS_CORETYPE']} ones asked for")
    times = {(side, alg): [] for side in ("spindle", "rltools") for alg in ("sac", "ppo")}
    returns = {k: [] for k in times}
    for seed in range(a.seeds):
        for alg in ("sac", "ppo"):
            for side, binaries in (("spindle", spindle), ("rltools", rltools)):
                t, r = result(binaries[alg], seed, env)
                times[(side, alg)].append(t)
                returns[(side, alg)].append(r)
                print(f"seed {seed} {alg} {side:8s} {t:7.3f} s  return {r:8.1f}", flush=True)

    print(f"\n{cpu_model()}, -march={a.march}, OpenBLAS kernels {core}, "
          f"{a.seeds} seeds interleaved, one thread, medians\n")
    print("| benchmark | spindle | RLtools | spindle / RLtools |")
    print("|---|---|---|---|")
    for alg, name in (("sac", "SAC Pendulum, JMLR config, 10k steps"), ("ppo", "PPO Pendulum, RLtools config")):
        ts, tr = statistics.median(times[("spindle", alg)]), statistics.median(times[("rltools", alg)])
        rs, rr = statistics.median(returns[("spindle", alg)]), statistics.median(returns[("rltools", alg)])
        print(f"| {name} | {ts:.3f} s ({rs:.1f}) | {tr:.3f} s ({rr:.1f}) | {ts / tr:.2f} |")


if __name__ == "__main__":
    main()
