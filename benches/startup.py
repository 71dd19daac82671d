#!/usr/bin/env python3
"""Start-up time of logmask: wall time of whole runs on empty input.
    benches/startup.py RUNS NAME=COMMAND...
Runs each COMMAND (a logmask command line) with stdin, stdout and stderr
on /dev/null, RUNS rounds, the commands in a random order each round, and
prints each one's median, first quartile and minimum in ms, and the
median over rounds of its time over the first command's in that round
(the steadier figure on a noisy VM).
"""
import random
import shlex
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    runs = int(sys.argv[1])
    cases = [arg.split("=", 1) for arg in sys.argv[2:]]
    times = {name: [] for name, _ in cases}
    for _ in range(runs):
        for name, cmd in random.sample(cases, len(cases)):
            start = time.perf_counter()
            subprocess.run(
                shlex.split(cmd),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            times[name].append((time.perf_counter() - start) * 1e3)
    first = cases[0][0]
    for name, _ in cases:
        t = times[name]
        q1 = statistics.quantiles(t, n=4)[0] if len(t) > 1 else t[0]
        ratio = statistics.median(b / a for a, b in zip(times[first], t))
        print(
            f"{name:10s} median {statistics.median(t):6.1f} ms  q1 {q1:6.1f}  "
            f"min {min(t):6.1f}  /{first} per round {ratio:.3f}"
        )


if __name__ == "__main__":
    main()
