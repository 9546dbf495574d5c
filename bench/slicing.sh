#!/usr/bin/env bash
# BigNAS weight slicing against shape-only sharing, on a space whose convolutions choose
# their width and kernel (examples/spaces/mnist1d-widths.hnas). Builds the ground truth once
# (data/mnist1d-widths-100.csv: 100 networks trained standalone twice, about 25 minutes on 2
# cores), then scores its networks with one-shot supernets of each kind (SEEDS supernet seeds,
# EPOCHS epochs) and prints Kendall tau against the table (bench/weight_sharing.py).
# Usage: bench/slicing.sh            (EPOCHS=30 SEEDS=3 WORK=target/slicing by default)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p hnas-cli
hnas=target/release/hnas
space=examples/spaces/mnist1d-widths.hnas
table=data/mnist1d-widths-100.csv
if [ ! -s "$table" ]; then
    "$hnas" tabulate --space $space --evaluator train:mnist1d --networks 100 --seeds 2 --out $table >&2
fi
work=${WORK:-target/slicing}
epochs=${EPOCHS:-30}
seeds=${SEEDS:-3}
mkdir -p "$work"
for share in slice shape; do
    echo "== share=$share, $epochs supernet epochs"
    for s in $(seq 0 $((seeds - 1))); do
        rm -rf "$work/sn-$share-$s" "$work/os-widths-$share-$s.csv"
        start=$(date +%s.%N)
        "$hnas" tabulate --space $space \
            --evaluator "oneshot:mnist1d,share=$share,epochs=$epochs,seed=$s,file=$work/sn-$share-$s" \
            --candidates $table --seeds 1 --out "$work/os-widths-$share-$s.csv" >&2
        python3 -c "print($(date +%s.%N) - $start)" > "$work/os-widths-$share-$s.seconds"
    done
    python3 bench/weight_sharing.py $table "$work" widths-$share "$seeds"
done
