#!/usr/bin/env bash
# Several trials at once in one `hnas search` (--jobs), side by side with one at a time, in
# one run; prints wall times and ratios (figures in docs/benchmarks.md, "Parallel trials").
#   1. sleep:200 (a 200 ms stand-in for training), 80 trials: --jobs 1 against --jobs 8.
#   2. The default search (MNIST-1D, 30 trainings): --jobs 1 against --jobs auto (one per core).
#   3. BANANAS on NB201 CIFAR-10, 100 trials, SEEDS seeds: regret with --jobs 4 against 1.
# Usage: bench/parallel.sh [SEEDS (default 100)] [PARTS (default 123)]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-100}
parts=${2:-123}
cargo build --release -p hnas-cli >&2
bin=$PWD/target/release/hnas
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cores=$(nproc)

# Wall seconds of a command (its output kept in $work/last.out).
timed() {
    local start end
    start=$(date +%s.%N)
    "$@" >"$work/last.out" 2>"$work/last.err"
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

if [[ $parts == *1* ]]; then
    echo "== sleep:200, 80 trials, random search on nb201.hnas"
    printf "%6s %10s %9s\n" jobs seconds speed-up
    one=""
    for jobs in 1 8; do
        s=$(timed "$bin" search --space examples/spaces/nb201.hnas --evaluator sleep:200 \
            --strategy random --dedup off --budget 80 --jobs "$jobs" -q --study "$work/sleep-$jobs.db")
        [ -z "$one" ] && one=$s
        printf "%6d %10.2f %8.2fx\n" "$jobs" "$s" "$(echo "$one / $s" | bc -l)"
    done
fi

if [[ $parts == *2* ]]; then
    echo "== the default search (MNIST-1D, 30 trainings), $cores cores"
    printf "%6s %10s %9s  %s\n" jobs seconds speed-up "best (validation accuracy, test accuracy)"
    one=""
    for jobs in 1 auto; do
        s=$(timed "$bin" search --jobs "$jobs" -q --study "$work/default-$jobs.db")
        [ -z "$one" ] && one=$s
        best=$(grep -m1 -E '^│ 1 ' "$work/last.out" | awk -F'┆' '{gsub(/ /,"",$3); gsub(/ /,"",$4); print $3", "$4}')
        printf "%6s %10.1f %8.2fx  %s\n" "$jobs" "$s" "$(echo "$one / $s" | bc -l)" "$best"
    done
fi

if [[ $parts == *3* ]]; then
    echo "== BANANAS on NB201 CIFAR-10, 100 trials, $seeds seeds: regret of test_200 (mean ± s.e.)"
    for jobs in 1 4; do
        "$bin" bench --space examples/spaces/nb201.hnas --evaluator nb201:cifar10 \
            --strategies random,bananas --seeds "$seeds" --budget 100 --at 25,50,100 \
            --jobs "$jobs" >"$work/bananas-$jobs.txt" 2>&1
        echo "-- --jobs $jobs"
        cat "$work/bananas-$jobs.txt"
    done
fi
