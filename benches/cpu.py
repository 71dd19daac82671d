#!/usr/bin/env python3
"""CPU time of logmask alone, the steadier measure on a noisy VM.

    benches/cpu.py INPUT RUNS NAME=COMMAND...

Runs each COMMAND (a logmask command line) with INPUT on stdin and
stdout to /dev/null, alternating, RUNS times, and prints the median user
and user+sys seconds from the child's rusage (its threads included).
Pipe timings (`benches/pipeline.py`) are what users see; when this VM's
pipes are in their slow mode, every tool ties with cat there, and these
CPU times still tell two builds or two options apart.
"""
import os
import shlex
import statistics
import subprocess
import sys


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    inp, runs = sys.argv[1], int(sys.argv[2])
    cases = [arg.split("=", 1) for arg in sys.argv[3:]]
    times = {name: [] for name, _ in cases}
    for _ in range(runs):
        for name, cmd in cases:
            with open(inp, "rb") as stdin, open(os.devnull, "wb") as stdout:
                child = subprocess.Popen(shlex.split(cmd), stdin=stdin, stdout=stdout)
                _, _, usage = os.wait4(child.pid, 0)
            times[name].append((usage.ru_utime, usage.ru_utime + usage.ru_stime))
    width = max(len(name) for name, _ in cases)
    for name, _ in cases:
        user = statistics.median(t[0] for t in times[name])
        total = statistics.median(t[1] for t in times[name])
        low = min(t[0] for t in times[name])
        print(f"{name:{width}}  user {user:.3f}  user+sys {total:.3f}  (min user {low:.3f})")


main()
