#!/usr/bin/env bash
# A user's own space (issue 28): the graph-network space of examples/spaces/graph.hnas on a
# synthetic table with one row per network (bench/graph_table.py), and NAS-Bench-201 CIFAR-10,
# side by side. For every strategy: regret against random search and distinct networks per
# 100 counted trials, under --dedup skip and --dedup reuse (figures in docs/benchmarks.md,
# "A user's own space").
# Usage: bench/graph_bench.sh [SEEDS (default 20)] [FIRST_SEED (default 0)]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-20}
first=${2:-0}
cargo build --release -p hnas-cli >&2
bin=$PWD/target/release/hnas
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" space enumerate examples/spaces/graph.hnas | python3 bench/graph_table.py >"$work/graph.csv"
echo "forms: $("$bin" space count examples/spaces/graph.hnas), networks: $("$bin" space count --networks examples/spaces/graph.hnas 2>/dev/null)"

strategies="random,random:over=networks,rea,ls,mcts,tpe,bananas,qlearn"
for dedup in skip reuse; do
    echo "== graph.hnas, synthetic table, --dedup $dedup"
    "$bin" bench --space examples/spaces/graph.hnas \
        --evaluator "table:$work/graph.csv,form=network" \
        --objective max:accuracy --regret-metric accuracy \
        --strategies "$strategies,mapelites:x=latency_ms:0:25:10" \
        --seeds "$seeds" --first-seed "$first" --budget 100 --at 50,100 --dedup "$dedup"
    echo "== nb201.hnas, nb201:cifar10 (search on valid_12, regret on test_200), --dedup $dedup"
    "$bin" bench --space examples/spaces/nb201.hnas --evaluator nb201:cifar10 \
        --strategies "$strategies,mapelites:x=latency_ms_pi5_onnx:0:10:10,y=count.nor_conv_3x3:0:6:7" \
        --seeds "$seeds" --first-seed "$first" --budget 100 --at 50,100 --dedup "$dedup"
done
