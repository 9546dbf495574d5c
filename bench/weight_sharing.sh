#!/usr/bin/env bash
# Weight sharing, measured against tables of networks trained standalone (data/): every figure
# of docs/weight-sharing.md, in one run.
#   1. One-shot ranking: a supernet per seed (0-4) trained on the NB201-op cell space, every
#      network of the table scored with inherited weights; Kendall tau against standalone
#      accuracy, and the time to reach a top-1 % network with a one-shot rung versus training
#      every candidate (bench/weight_sharing.py).
#   2. DARTS (first order) collapse, then beta-DARTS with perturbation-based selection, five
#      seeds each; every found cell trained standalone (seeds 0, 1) and placed in the table.
#   3. PC-DARTS with K = 4 and K = 2 (3 epochs, argmax), five seeds each, placed likewise.
# Usage: bench/weight_sharing.sh [DATASETS (default "mnist1d fashion")] [PARTS (default 123)]
# About 15 minutes for MNIST-1D and 45 for Fashion-MNIST on 2 cores (Fashion-MNIST needs
# Debian's dataset-fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
datasets=${1:-"mnist1d fashion"}
parts=${2:-123}
cargo build --release -p hnas-cli >&2
hnas=$PWD/target/release/hnas
space=examples/spaces/nb201.hnas
work=${WORK:-target/weight-sharing}
mkdir -p "$work"
for d in $datasets; do
    case $d in
        mnist1d)
            table=data/nb201-mnist1d-200.csv
            data=mnist1d,channels=4
            train=5
            # The supernet as wide as the table's networks, and one 4x wider.
            variants="c4:oneshot:mnist1d,channels=4,epochs=30 c16:oneshot:mnist1d,channels=16,epochs=30"
            darts_epochs=${DARTS_EPOCHS:-10}
            ;;
        fashion)
            table=data/nb201-fashion-100.csv
            data=fashion-mnist,channels=8,train_size=2000,epochs=2
            train=2
            variants="c8:oneshot:fashion-mnist,channels=8,train_size=2000,epochs=10"
            darts_epochs=${DARTS_EPOCHS:-3}
            ;;
        *) echo "unknown dataset $d (mnist1d, fashion)" >&2; exit 2 ;;
    esac
    if [[ $parts == *1* ]]; then
        echo "== 1. one-shot ranking on $table"
        for v in ${VARIANTS:-$variants}; do
            tag=${v%%:*}
            oneshot=${v#*:}
            echo "-- $oneshot"
            for s in 0 1 2 3 4; do
                start=$(date +%s.%N)
                "$hnas" tabulate --space $space --evaluator "$oneshot,seed=$s,file=$work/sn-$d-$tag-$s" \
                    --candidates $table --seeds 1 --out "$work/os-$d-$tag-$s.csv" >&2
                python3 -c "print($(date +%s.%N) - $start)" > "$work/os-$d-$tag-$s.seconds"
            done
            python3 bench/weight_sharing.py $table "$work" $d-$tag 5
        done
    fi
    if [[ $parts == *2* ]]; then
        echo "== 2. DARTS on $table ($darts_epochs epochs)"
        echo "-- DARTS (first order), argmax"
        "$hnas" darts --space $space --dataset "$data" --method darts --epochs "$darts_epochs" \
            --seeds 5 --train $train --table $table --out "$work/darts-$d.jsonl" 2>/dev/null | grep -E "^(seed|over|  standalone|  beats|  [0-9]+ %)"
        echo "-- beta-DARTS, perturbation-based selection"
        "$hnas" darts --space $space --dataset "$data" --method beta --select perturb \
            --epochs "$darts_epochs" --seeds 5 --train $train --table $table \
            --out "$work/beta-$d.jsonl" 2>/dev/null | grep -E "^(seed|over|  standalone|  beats|  [0-9]+ %)"
    fi
    if [[ $parts == *3* ]]; then
        for k in 4 2; do
            echo "== 3. PC-DARTS on $table (K = $k, 3 epochs), argmax"
            "$hnas" darts --space $space --dataset "$data" --method pc --partial $k --epochs 3 \
                --seeds 5 --train $train --table $table --out "$work/pc$k-$d.jsonl" 2>/dev/null | grep -E "^(seed|over|  standalone|  beats|  [0-9]+ %)"
        done
    fi
done
