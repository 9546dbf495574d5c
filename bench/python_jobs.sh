#!/usr/bin/env bash
# Several trials at once from Python, hnas against Optuna (both from this run): builds the
# hnas wheel in release mode into target/bench-venv (as python_overhead.sh does), installs
# optuna and numpy there, and runs bench/python_jobs.py.
# Usage: bench/python_jobs.sh [TRIALS (default 16)] [JOBS (default 2)] [REPEATS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$PWD/target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.7,<2" optuna numpy
rm -rf target/bench-wheels
"$venv/bin/maturin" build --release -m crates/hnas-py/Cargo.toml --out target/bench-wheels >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps target/bench-wheels/hnas-*.whl
"$venv/bin/python" bench/python_jobs.py "$@"
