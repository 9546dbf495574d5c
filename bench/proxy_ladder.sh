#!/usr/bin/env bash
# Proxies as the bottom rung of successive halving (issue 25): on the NB201-op cell space
# with MNIST-1D (channels 4), the same training cost two ways, SEEDS seeds each:
#   proxies: `proxy:mnist1d,channels=4,train_epochs=9` with sh (rungs 0/1/3/9, 27 candidates
#            screened by the proxies' aggregate, then 9 x 1 + 3 x 3 + 1 x 9 = 27 epochs);
#   train:   `train:mnist1d,channels=4,epochs=9` with sh:n=9 (rungs 1/3/9, 9 candidates,
#            9 x 1 + 3 x 3 + 1 x 9 = 27 epochs).
# Prints, per seed and as mean ± s.e., the test accuracy of the network trained at the top
# rung, and the wall time (figures in docs/benchmarks.md and docs/proxies-and-predictors.md).
# Usage: bench/proxy_ladder.sh [SEEDS (default 10)]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-10}
cargo build --release -p hnas-cli >&2
bin=$PWD/target/release/hnas
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

top() {
    "$bin" trials --study "$1" --format json | python3 -c '
import json, sys
best = None
for line in sys.stdin:
    t = json.loads(line)
    if t["state"] == "complete" and t["fidelity"] == 9.0:
        if best is None or t["metrics"]["accuracy"] > best["metrics"]["accuracy"]:
            best = t
print(best["metrics"]["test_accuracy"])'
}

printf "%5s %12s %9s %12s %9s\n" seed proxies_acc seconds train_acc seconds
for ((s = 0; s < seeds; s++)); do
    a=$(date +%s.%N)
    "$bin" search --space examples/spaces/nb201.hnas --evaluator "proxy:mnist1d,channels=4,train_epochs=9" \
        --strategy sh --budget-cost 28 --seed "$s" --study "$work/p$s.db" >/dev/null 2>&1
    b=$(date +%s.%N)
    "$bin" search --space examples/spaces/nb201.hnas --evaluator "train:mnist1d,channels=4,epochs=9" \
        --strategy sh:n=9 --budget-cost 28 --seed "$s" --study "$work/t$s.db" >/dev/null 2>&1
    c=$(date +%s.%N)
    printf "%5d %12s %9.1f %12s %9.1f\n" "$s" "$(top "$work/p$s.db")" "$(echo "$b - $a" | bc -l)" \
        "$(top "$work/t$s.db")" "$(echo "$c - $b" | bc -l)"
done | tee "$work/rows"
python3 - "$work/rows" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]) if l.strip() and not l.startswith(" seed")]
def ms(i):
    v = [float(r[i]) for r in rows]
    return f"{st.mean(v):.2f} ± {st.stdev(v) / len(v) ** 0.5:.2f}" if len(v) > 1 else str(v[0])
print(f"mean ± s.e. over {len(rows)} seeds: proxies {ms(1)} ({ms(2)} s), train {ms(3)} ({ms(4)} s)")
PY
