#!/usr/bin/env bash
# Throughput of `logmask -f secrets` against `cat | cat`, measured in the same
# run, alternating, median of RUNS, on the standard corpus.
#
#   benches/throughput.sh [MIB] [RUNS]        (defaults: 256 MiB, 5 runs)
#
# Builds the release binary, generates the corpus with
# ../shared/bench/gen-corpus.py for N = 1, 100, 1,000 and 10,000 secrets
# (cached in $CORPUS_DIR), and prints one table row per N: MB/s, ratio to
# `cat | cat`, matcher build time and peak RSS (from --stats-free runs
# under /usr/bin/time when it exists, else from getrusage via python).
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-256}
runs=${2:-5}
corpus_dir=${CORPUS_DIR:-/tmp/logmask-bench-$mib}
gen=../shared/bench/gen-corpus.py
cargo build --release --quiet
bin=target/release/logmask

for n in 1 100 1000 10000; do
  [ -f "$corpus_dir/n$n/corpus.log" ] || python3 "$gen" "$corpus_dir/n$n" --mib "$mib" --secrets "$n"
done

python3 - "$bin" "$corpus_dir" "$runs" <<'PY'
import os, resource, statistics, subprocess, sys, time
bin, corpus_dir, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True)
    return time.perf_counter() - t

def peak_rss_kib(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = subprocess.Popen(cmd, shell=True)
    _, status, usage = os.wait4(p.pid, 0)
    return usage.ru_maxrss

print(f"| secrets | variants | logmask MB/s | cat\\|cat MB/s | ratio | build ms | peak RSS MiB |")
print(f"|---:|---:|---:|---:|---:|---:|---:|")
for n in (1, 100, 1000, 10000):
    d = f"{corpus_dir}/n{n}"
    corpus, secrets = f"{d}/corpus.log", f"{d}/secrets.txt"
    size = os.path.getsize(corpus)
    cat_t, mask_t = [], []
    for _ in range(runs):
        cat_t.append(timed(f"cat {corpus} | cat > /dev/null"))
        mask_t.append(timed(f"cat {corpus} | {bin} -f {secrets} > /dev/null"))
    cat_s, mask_s = statistics.median(cat_t), statistics.median(mask_t)
    # Build time: the whole run on empty input (start-up, reading and
    # expanding the secrets, building the matcher).
    build = statistics.median(timed(f"{bin} -f {secrets} < /dev/null > /dev/null") for _ in range(runs))
    rss = peak_rss_kib(f"exec {bin} -f {secrets} < {corpus} > /dev/null")
    stats = subprocess.run(f"{bin} -f {secrets} --stats < /dev/null", shell=True, capture_output=True, text=True).stderr
    variants = next((w.split("=")[1] for w in stats.split() if w.startswith("variants=")), "?")
    print(f"| {n} | {variants} | {size/mask_s/1e6:.0f} | {size/cat_s/1e6:.0f} | {cat_s/mask_s:.2f} | {build*1000:.0f} | {rss/1024:.1f} |")
PY
