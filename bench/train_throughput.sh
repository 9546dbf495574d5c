#!/usr/bin/env bash
# Training throughput of one fixed CNN (docs/training.md, "Throughput"): hnas on each backend
# it was built with, and PyTorch on the CPU, side by side in one run, with the ratios.
#
#   bench/train_throughput.sh                  # hnas's default backend (flex) vs PyTorch
#   HNAS_TCH=1 bench/train_throughput.sh       # also hnas with libtorch (builds --features tch)
#
# Installs torch==2.9.0 from PyPI into target/bench-venv (about 2.5 GB with its CUDA
# libraries) unless HNAS_TORCH_PYTHON names a Python that has it. Threads: 2 (THREADS=N).
# Shared machines drift by tens of percent within minutes, so each round runs every backend
# once, back to back, and the table gives the median over ROUNDS rounds (default 5) and the
# median of the per-round ratios to PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${THREADS:-2}"
steps="${STEPS:-200}"
rounds="${ROUNDS:-5}"
py="${HNAS_TORCH_PYTHON:-}"
if [ -z "$py" ]; then
    if [ ! -x target/bench-venv/bin/python ]; then
        python3 -m venv target/bench-venv
    fi
    py=target/bench-venv/bin/python
    "$py" -c "import torch" 2>/dev/null || "$py" -m pip install -q torch==2.9.0 numpy
fi
export RAYON_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"

cargo build --release -q -p hnas-cli
site=""
if [ "${HNAS_TCH:-0}" = 1 ]; then
    site="$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))')"
    PATH="$(dirname "$py"):$PATH" LIBTORCH_USE_PYTORCH=1 cargo build --release -q -p hnas-cli --features tch \
        --target-dir target/tch
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for round in $(seq "$rounds"); do
    for opt in sgd adam; do
        echo "$round,$("$py" bench/train_throughput.py --steps "$steps" --threads "$threads" --optimizer "$opt")" >>"$out"
        # PyTorch again with the glibc thresholds hnas sets for libtorch (see docs/training.md).
        echo "$round,$(GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456 \
            "$py" bench/train_throughput.py --steps "$steps" --threads "$threads" --optimizer "$opt" |
            sed 's/^pytorch-cpu/pytorch-malloc/')" >>"$out"
        echo "$round,$(target/release/hnas bench-train --steps "$steps" --optimizer "$opt" --csv)" >>"$out"
        if [ -n "$site" ]; then
            echo "$round,$(LD_LIBRARY_PATH="$site/lib" HNAS_DEVICE=tch target/tch/release/hnas bench-train --steps "$steps" --optimizer "$opt" --csv)" >>"$out"
        fi
    done
done

echo "fixed CNN, batch 128, $threads threads, $steps steps, median of $rounds rounds ($(nproc) cores)"
python3 - "$out" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) == 7]
print(f"{'backend':<14} {'opt':<5} {'steps/s':>8} {'fwd_ms':>7} {'bwd_ms':>7} {'upd_ms':>7} {'vs_torch':>9}  per round")
for opt in ("sgd", "adam"):
    ref = {r[0]: float(r[3]) for r in rows if r[1] == "pytorch-cpu" and r[2] == opt}
    for backend in dict.fromkeys(r[1] for r in rows):
        mine = [r for r in rows if r[1] == backend and r[2] == opt]
        med = [statistics.median(float(r[i]) for r in mine) for i in (3, 4, 5, 6)]
        ratios = [float(r[3]) / ref[r[0]] for r in mine]
        each = " ".join(f"{x:.2f}" for x in ratios)
        print(f"{backend:<14} {opt:<5} {med[0]:>8.2f} {med[1]:>7.2f} {med[2]:>7.2f} {med[3]:>7.2f} "
              f"{statistics.median(ratios):>8.2f}x  {each}")
PY
