#!/usr/bin/env python3
"""Costs of logmask where users put it: in the middle of a pipeline.

    benches/pipeline.py CORPUS [--runs N] [--input FILE] CASE...

Each CASE is NAME=COMMAND, COMMAND a logmask command line (the binary and
its options, e.g. 'target/release/logmask -f secrets.txt --no-detect').
Every case runs as

    cat INPUT | COMMAND | cat > /dev/null

alternating with the reference `cat INPUT | cat | cat > /dev/null` in the
same run, RUNS times (default 5), and prints the median wall time, MB/s,
cat's own MB/s in the same rounds, and the ratio of the case's time to
cat's (1.00 = as fast as cat; higher is slower). Writing straight to
/dev/null would let the kernel skip work and flatter every tool, hence
the last `cat`.

This VM's pipes switch between a fast mode (cat near 3 GB/s) and a slow
one (near 1 GB/s, where every tool ties with cat): read the ratios of a
run whose cat column is in the fast mode.

Also prints each case's peak RSS (one extra run, from wait4) and start-up
(the command on empty input, median).
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True)
    return time.perf_counter() - start


def peak_rss_kib(cmd):
    proc = subprocess.Popen(["/bin/sh", "-c", "exec " + cmd])
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="the log to mask")
    ap.add_argument("cases", nargs="+", help="NAME=COMMAND")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up and RSS columns")
    args = ap.parse_args()
    size = os.path.getsize(args.input)
    inp = shlex.quote(args.input)
    cases = [c.split("=", 1) for c in args.cases]
    reference = f"cat {inp} | cat | cat > /dev/null"
    cat_times, case_times = [], {name: [] for name, _ in cases}
    for _ in range(args.runs):
        cat_times.append(timed(reference))
        for name, cmd in cases:
            case_times[name].append(timed(f"cat {inp} | {cmd} | cat > /dev/null"))
    cat_s = statistics.median(cat_times)
    print(f"input {args.input}: {size / 2**20:.0f} MiB, median of {args.runs} rounds")
    print("| case | wall s | MB/s | cat\\|cat\\|cat MB/s | time ratio to cat | start-up ms | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, cmd in cases:
        t = statistics.median(case_times[name])
        if args.no_startup:
            startup, rss = "", ""
        else:
            startup = f"{statistics.median(timed(cmd + ' < /dev/null > /dev/null') for _ in range(args.runs)) * 1000:.0f}"
            rss = f"{peak_rss_kib(cmd + f' < {inp} > /dev/null') / 1024:.1f}"
        print(f"| {name} | {t:.3f} | {size / t / 1e6:.0f} | {size / cat_s / 1e6:.0f} | {t / cat_s:.2f} | {startup} | {rss} |",
              flush=True)
    print(f"(cat rounds: min {size / max(cat_times) / 1e6:.0f}, max {size / min(cat_times) / 1e6:.0f} MB/s)")


if __name__ == "__main__":
    sys.exit(main())
