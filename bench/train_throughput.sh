#!/usr/bin/env bash
# Training throughput of one fixed CNN (docs/training.md, "Throughput"): hnas on each backend
# it was built with, and PyTorch on the CPU, side by side in one run, with the ratios.
#
#   bench/train_throughput.sh                  # hnas's default backend (flex) vs PyTorch
#   HNAS_TCH=1 bench/train_throughput.sh       # also hnas with libtorch (builds --features tch)
#
# Installs torch==2.9.0 from PyPI into target/bench-venv (about 2.5 GB with its CUDA
# libraries) unless HNAS_TORCH_PYTHON names a Python that has it. Threads: 2 (THREADS=N).
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${THREADS:-2}"
steps="${STEPS:-100}"
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
rows=()
for opt in sgd adam; do
    rows+=("$("$py" bench/train_throughput.py --steps "$steps" --threads "$threads" --optimizer "$opt")")
    rows+=("$(target/release/hnas bench-train --steps "$steps" --optimizer "$opt" --csv)")
done
if [ "${HNAS_TCH:-0}" = 1 ]; then
    site="$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))')"
    PATH="$(dirname "$py"):$PATH" LIBTORCH_USE_PYTORCH=1 cargo build --release -q -p hnas-cli --features tch \
        --target-dir target/tch
    for opt in sgd adam; do
        rows+=("$(LD_LIBRARY_PATH="$site/lib" HNAS_DEVICE=tch target/tch/release/hnas bench-train --steps "$steps" --optimizer "$opt" --csv)")
    done
fi

echo "fixed CNN, batch 128, $threads threads, $steps steps ($(nproc) cores)"
printf '%-14s %-5s %9s %8s %8s %8s %9s\n' backend opt steps/s fwd_ms bwd_ms upd_ms vs_torch
for r in "${rows[@]}"; do
    IFS=, read -r backend opt sps f b u <<<"$r"
    ref=$(printf '%s\n' "${rows[@]}" | awk -F, -v o="$opt" '$1=="pytorch-cpu" && $2==o {print $3}')
    printf '%-14s %-5s %9.2f %8.2f %8.2f %8.2f %8.2fx\n' "$backend" "$opt" "$sps" "$f" "$b" "$u" "$(awk -v a="$sps" -v r="$ref" 'BEGIN{print a/r}')"
done
