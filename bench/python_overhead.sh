#!/usr/bin/env bash
# hnas's Python API against Optuna (from PyPI), per-trial engine overhead, side by side:
# builds the hnas wheel in release mode into a private virtual environment
# (target/bench-venv), installs optuna there, and runs bench/python_overhead.py.
# Usage: bench/python_overhead.sh [TRIALS (default 1000)] [REPEATS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$PWD/target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.7,<2" optuna
rm -rf target/bench-wheels
"$venv/bin/maturin" build --release -m crates/hnas-py/Cargo.toml --out target/bench-wheels >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps target/bench-wheels/hnas-*.whl
"$venv/bin/python" bench/python_overhead.py "$@"
