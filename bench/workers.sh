#!/usr/bin/env bash
# Throughput of 1, 2, 4, 8, 16 hnas workers on one machine sharing a PostgreSQL study,
# against an evaluator that sleeps 50 ms per trial; prints the scaling efficiency
# (throughput with N workers / (N x throughput with one)).
# Usage: bench/workers.sh [TRIALS (default 640)] [postgres://USER@HOST:PORT/DB]
# Without a URL it starts a private server with .ci/start-postgres (fsync on).
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-640}
url=${2:-}
if [ -z "$url" ]; then
    eval "$(HNAS_PG_FSYNC=on .ci/start-postgres)"
    trap '.ci/stop-postgres' EXIT
    url=$HNAS_TEST_POSTGRES
fi
cargo build --release -p hnas-cli >&2
bin=target/release/hnas
printf "%8s %8s %12s %12s %11s\n" workers trials "seconds" "trials/s" efficiency
base=""
for n in 1 2 4 8 16; do
    study="$url?study=workers-$n-$$-$(date +%s%N)"
    start=$(date +%s.%N)
    for _ in $(seq "$n"); do
        "$bin" worker --space examples/spaces/nb201.hnas --evaluator sleep:50 --objective max:score \
            --strategy random --dedup off --budget "$trials" --study "$study" -q >/dev/null &
    done
    wait
    end=$(date +%s.%N)
    secs=$(echo "$end - $start" | bc -l)
    rate=$(echo "$trials / $secs" | bc -l)
    [ -z "$base" ] && base=$rate
    eff=$(echo "$rate / ($n * $base)" | bc -l)
    printf "%8d %8d %12.2f %12.2f %10.0f%%\n" "$n" "$trials" "$secs" "$rate" "$(echo "$eff * 100" | bc -l)"
done
