#!/usr/bin/env bash
# Throughput of `logmask -f secrets` against `cat | cat`, measured in the same
# run, alternating, median of RUNS, on the standard corpus.
#
#   benches/throughput.sh [MIB] [RUNS] [COUNTS]
#       defaults: 256 MiB, 5 runs, COUNTS="1 100 1000 10000 100000"
#
# Builds the release binary, generates the corpus with
# ../shared/bench/gen-corpus.py for each N (cached in $CORPUS_DIR), and
# prints one table row per N: MB/s, time ratio to `cat | cat | cat` (logmask
# runs as `cat corpus | logmask ... | cat`), start-up time (a
# whole run on empty input: process start, reading and expanding the
# secrets, building the matcher) and peak RSS (from wait4). The matcher
# build alone: `cargo run --release --example throughput SECRETS < /dev/null`.
# LOGMASK_ARGS adds options to every logmask run (e.g. "--no-detect
# --no-default-env"). For other comparisons (two binaries, an option on and
# off, detection-dense logs) see benches/pipeline.py.
#
# Then, if 10000 is among the counts, the in-band case: the 10,000-secret
# corpus with 1,000 `::add-mask::` lines of new secrets spread evenly among
# its lines (each new secret also appears in the next line), against the
# same corpus without them, both with the 10,000 secrets registered.
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-256}
runs=${2:-5}
counts=${3:-1 100 1000 10000 100000}
corpus_dir=${CORPUS_DIR:-/tmp/logmask-bench-$mib}
gen=../shared/bench/gen-corpus.py
cargo build --release --quiet
bin=target/release/logmask

for n in $counts; do
  [ -f "$corpus_dir/n$n/corpus.log" ] || python3 "$gen" "$corpus_dir/n$n" --mib "$mib" --secrets "$n"
done

python3 - "$bin" "$corpus_dir" "$runs" $counts <<'PY'
import os, random, statistics, string, subprocess, sys, time
bin, corpus_dir, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
extra = os.environ.get("LOGMASK_ARGS", "")
counts = [int(n) for n in sys.argv[4:]]

def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True)
    return time.perf_counter() - t

def peak_rss_kib(cmd):
    p = subprocess.Popen(cmd, shell=True)
    _, status, usage = os.wait4(p.pid, 0)
    return usage.ru_maxrss

def alternate(*cmds):
    times = [[] for _ in cmds]
    for _ in range(runs):
        for t, cmd in zip(times, cmds):
            t.append(timed(cmd))
    return [statistics.median(t) for t in times]

print("| secrets | variants | logmask MB/s | cat\\|cat\\|cat MB/s | time ratio to cat | start-up ms | peak RSS MiB |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for n in counts:
    d = f"{corpus_dir}/n{n}"
    corpus, secrets = f"{d}/corpus.log", f"{d}/secrets.txt"
    size = os.path.getsize(corpus)
    # In the middle of a pipeline, as users run it: straight to /dev/null
    # the kernel would skip work and flatter both.
    cat_s, mask_s = alternate(f"cat {corpus} | cat | cat > /dev/null",
                              f"cat {corpus} | {bin} {extra} -f {secrets} | cat > /dev/null")
    build = statistics.median(timed(f"{bin} {extra} -f {secrets} < /dev/null > /dev/null") for _ in range(runs))
    rss = peak_rss_kib(f"exec {bin} {extra} -f {secrets} < {corpus} > /dev/null")
    stats = subprocess.run(f"{bin} {extra} -f {secrets} --stats < /dev/null", shell=True, capture_output=True, text=True).stderr
    variants = next((w.split("=")[1] for w in stats.split() if w.startswith("variants=")), "?")
    print(f"| {n} | {variants} | {size/mask_s/1e6:.0f} | {size/cat_s/1e6:.0f} | {mask_s/cat_s:.2f} | {build*1000:.0f} | {rss/1024:.1f} |", flush=True)

if 10000 in counts:
    d = f"{corpus_dir}/n10000"
    plain, secrets = f"{d}/corpus.log", f"{d}/secrets.txt"
    inband = f"{corpus_dir}/n10000-addmask.log"
    if not os.path.exists(inband):
        rng = random.Random(1000)
        alnum = string.ascii_letters + string.digits
        new = ["".join(rng.choice(alnum) for _ in range(rng.randint(20, 40))) for _ in range(1000)]
        lines = open(plain, "rb").read().split(b"\n")
        every = len(lines) // (len(new) + 1)
        with open(inband, "wb") as out:
            for i, line in enumerate(lines):
                k = i // every - 1
                if i % every == 0 and 0 <= k < len(new):
                    out.write(b"::add-mask::" + new[k].encode() + b"\n")
                    line = line + b" token=" + new[k].encode()
                out.write(line + (b"\n" if i + 1 < len(lines) else b""))
    without, with_ = alternate(f"cat {plain} | {bin} {extra} -f {secrets} | cat > /dev/null",
                               f"cat {inband} | {bin} {extra} -f {secrets} | cat > /dev/null")
    print()
    print(f"1,000 `::add-mask::` lines among the 10,000-secret corpus: {with_:.2f} s against {without:.2f} s without them ({with_ - without:+.2f} s).")
PY
