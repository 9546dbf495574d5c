#!/usr/bin/env bash
# hnas's Python API against Optuna on a small real task (a scikit-learn pipeline for the
# digits dataset, 15 trials, several seeds), side by side: builds the hnas wheel in release
# mode into target/bench-venv, installs optuna and scikit-learn from PyPI there, and runs
# bench/python_sklearn.py. Usage: bench/python_sklearn.sh [SEEDS (default 5)] [TRIALS (default 15)]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$PWD/target/bench-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.7,<2" optuna scikit-learn
rm -rf target/bench-wheels
"$venv/bin/maturin" build --release -m crates/hnas-py/Cargo.toml --out target/bench-wheels >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps target/bench-wheels/hnas-*.whl
"$venv/bin/python" bench/python_sklearn.py "$@"
