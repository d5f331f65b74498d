#!/usr/bin/env python3
"""powkit against cpuminer-opt on this machine: one thread each, pinned to
CPU 0, run alternately (A B A B ...), medians printed with the ratio.

usage: compare_cpuminer.py [--baseline OLD_POWKIT[:KERNEL]] CPUMINER POWKIT [ROUNDS] [SECONDS] [KERNEL...]

CPUMINER runs `-a sha256d --benchmark -t 1 --cpu-affinity 0x1 --time-limit
SECONDS`; its figure is the last "Total:" line (its average since start).
POWKIT runs `bench -t 1 --seconds SECONDS --kernel K --json --no-opencl`
under `taskset -c 0`, for each KERNEL (default: the best family's pick and
its +v row when it has one), read from the JSON rows.  --baseline adds an
older powkit build (say one built from a git worktree at the commit a goal
is stated against) to every round, its KERNEL row (default avx512), and
prints each row's ratio to it as well.  Machines of this kind
are noisy: only ratios from one run mean anything.
"""
import json
import re
import statistics
import subprocess
import sys

UNITS = {"": 1e-6, "k": 1e-3, "K": 1e-3, "M": 1.0, "G": 1e3, "T": 1e6}


def cpuminer_mhs(binary, seconds):
    cmd = [binary, "-a", "sha256d", "--benchmark", "-t", "1", "--cpu-affinity", "0x1",
           "--time-limit", str(seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    text = out.stdout + out.stderr
    totals = re.findall(r"Total: ([0-9.]+) ?([kKMGT]?)H/s", text)
    if not totals:
        sys.exit("no 'Total:' line from %s:\n%s" % (binary, text[-2000:]))
    value, unit = totals[-1]
    return float(value) * UNITS[unit]


def powkit_rows(binary, seconds, kernel):
    cmd = ["taskset", "-c", "0", binary, "bench", "-t", "1", "--seconds", str(seconds), "--json",
           "--no-opencl"]
    if kernel:
        cmd += ["--kernel", kernel]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 40 + 120, check=True)
    doc = json.loads(out.stdout)
    return {r["name"]: r["mhs"] for r in doc["kernels"] if r.get("selftest") == "ok" and r["threads"] == 1}, doc


def main():
    argv = sys.argv[1:]
    baseline = None
    if argv[:1] == ["--baseline"] and len(argv) > 1:
        path, _, bk = argv[1].partition(":")
        baseline = (path, bk or "avx512")
        argv = argv[2:]
    if len(argv) < 2:
        sys.exit(__doc__)
    cpuminer, powkit = argv[0], argv[1]
    rounds = int(argv[2]) if len(argv) > 2 else 5
    seconds = int(argv[3]) if len(argv) > 3 else 20
    kernels = argv[4:]
    if not kernels:
        _, doc = powkit_rows(powkit, 0.2, None)
        best = doc["best"]
        kernels = [best.split(":")[0]]
    results = {"cpuminer-opt": []}
    for r in range(rounds):
        results["cpuminer-opt"].append(cpuminer_mhs(cpuminer, seconds))
        if baseline:
            rows, _ = powkit_rows(baseline[0], seconds / 4, baseline[1])
            results.setdefault("baseline " + baseline[1], []).append(rows[baseline[1]])
        for k in kernels:
            rows, _ = powkit_rows(powkit, seconds / 4, k)
            for name, mhs in rows.items():
                results.setdefault("powkit " + name, []).append(mhs)
        line = ", ".join("%s %.2f" % (n, v[-1]) for n, v in results.items() if v)
        print("round %d: %s" % (r + 1, line), flush=True)
    base = statistics.median(results["cpuminer-opt"])
    print("median of %d rounds, MH/s on one thread (CPU 0):" % rounds)
    old = statistics.median(results["baseline " + baseline[1]]) if baseline else None
    for name, values in results.items():
        m = statistics.median(values)
        vs_old = "  %.2fx baseline" % (m / old) if old else ""
        print("  %-22s %8.2f  (%.2f-%.2f)  %.2fx cpuminer-opt%s" % (name, m, min(values), max(values), m / base,
                                                                  vs_old))


if __name__ == "__main__":
    main()
