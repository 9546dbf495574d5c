#!/usr/bin/env bash
# Zero-cost proxies and performance predictors: every figure of
# docs/proxies-and-predictors.md, in one run.
#   1. Fidelity of the data-free proxies: params, FLOPs and SynFlow of all 15,625 NAS-Bench-201
#      cells compiled as NAS-Bench-201 builds them (C = 16, N = 5, 3x32x32, 10 classes),
#      Kendall tau against test_200 of CIFAR-10 (about 10 minutes on 2 cores).
#   2. Predictors on NAS-Bench-201 CIFAR-10: train on N random networks, rank 1,000 others,
#      20 seeds; with and without free statistics (params, FLOPs) as features.
#   3. Proxies and predictors on data/mnist1d-150.csv (150 networks of the default space,
#      trained here with 2 seeds each by `hnas tabulate`).
#   4. BANANAS with the FLOPs prior against BANANAS alone, NB201 CIFAR-10, held-out seeds
#      100-199, and the GP surrogate variant.
# Usage: bench/proxies.sh [PARTS (default 1234)]
set -euo pipefail
cd "$(dirname "$0")/.."
parts=${1:-1234}
cargo build --release -p hnas-cli >&2
hnas=$PWD/target/release/hnas
nb201=examples/spaces/nb201.hnas
flops="proxy:shape=3x32x32,cells=5"

if [[ $parts == *1* ]]; then
    echo "== 1. data-free proxies over every NAS-Bench-201 cell (published: FLOPs 0.62, SynFlow 0.56)"
    "$hnas" predict --space $nb201 --evaluator nb201:cifar10 --model none --all \
        --features "$flops,reference=0"
fi
if [[ $parts == *2* ]]; then
    echo "== 2. predictors on NAS-Bench-201 CIFAR-10 (published at 156: neural 0.41, PINAT 0.63, HyperNAS 0.77, FGP 0.84)"
    "$hnas" predict --space $nb201 --evaluator nb201:cifar10 --train 16,78,156,469 --seeds 20
    echo "-- the GP with Weisfeiler-Lehman features and paths, 8192 hashed features"
    "$hnas" predict --space $nb201 --evaluator nb201:cifar10 --model gp --train 16,78,156,469 \
        --seeds 20 --wl 1 --paths --dims 8192
    echo "-- with parameters and FLOPs as features"
    "$hnas" predict --space $nb201 --evaluator nb201:cifar10 --train 16,78,156,469 --seeds 20 \
        --features "$flops,proxies=flops+params,reference=0"
fi
if [[ $parts == *3* ]]; then
    table=data/mnist1d-150.csv
    space=crates/hnas-train/spaces/mnist1d.hnas
    echo "== 3. proxies on $table (validation accuracy, mean of 2 training seeds)"
    start=$(date +%s.%N)
    "$hnas" predict --space $space --evaluator "table:$table" --metric accuracy \
        --features proxy:mnist1d --model none --candidates $table --seeds 1
    end=$(date +%s.%N)
    echo "proxies of 150 networks plus 100 reference networks: $(echo "$end - $start" | bc -l) s"
    echo "-- proxies on data/nb201-mnist1d-200.csv (NB201-op cells, 4 channels)"
    "$hnas" predict --space $nb201 --evaluator "table:data/nb201-mnist1d-200.csv" --metric accuracy \
        --features proxy:mnist1d,channels=4 --model none --candidates data/nb201-mnist1d-200.csv --seeds 1
    echo "-- predictors on the same table: train on 100, rank 50, 20 splits"
    "$hnas" predict --space $space --evaluator "table:$table" --metric accuracy \
        --features proxy:mnist1d --model mlp,gbt,gp --train 25,100 --test 50 \
        --candidates $table --seeds 20
fi
if [[ $parts == *4* ]]; then
    echo "== 4. BANANAS on NB201 CIFAR-10, held-out seeds 100-199 (issue target: <= 0.15 at 50, <= 0.03 at 100)"
    "$hnas" bench --space $nb201 --evaluator nb201:cifar10 --strategies bananas \
        --first-seed 100 --seeds 100 --budget 300
    "$hnas" bench --space $nb201 --evaluator nb201:cifar10 --strategies bananas \
        --prior "$flops,proxies=flops" --first-seed 100 --seeds 100 --budget 300
    "$hnas" bench --space $nb201 --evaluator nb201:cifar10 --strategies bananas:model=gp \
        --prior "$flops,proxies=flops" --first-seed 100 --seeds 100 --budget 150 --at 50,100,150
fi
