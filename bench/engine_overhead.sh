#!/usr/bin/env bash
# Installs Optuna from PyPI, builds hnas, and prints hnas's per-trial engine overhead beside
# Optuna's (issue 3's measurement). Usage: bench/engine_overhead.sh [--trials 1000,10000]
# [--postgres postgres://USER@HOST:PORT/DB]   (both engines on the same PostgreSQL server;
# `eval "$(.ci/start-postgres)"` starts one and names it in $HNAS_TEST_POSTGRES)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import optuna" 2>/dev/null || python3 -m pip install --quiet "optuna>=5"
case " $* " in
*" --postgres "*) python3 -c "import psycopg2" 2>/dev/null || python3 -m pip install --quiet psycopg2-binary ;;
esac
cargo build --release -p hnas-cli
python3 bench/engine_overhead.py --hnas target/release/hnas "$@"
