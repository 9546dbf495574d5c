#!/usr/bin/env python3
"""Per-trial engine overhead: hnas against Optuna, side by side in one run.

Both engines search NAS-Bench-201's space (six categorical choices of five operations) with
a random sampler, ask + tell + storage per trial, the objective's own time excluded:
- hnas: `hnas bench-engine` (random strategy; in memory and SQLite store),
- Optuna: RandomSampler and TPESampler, in memory and with its SQLite (RDB) storage,
and with --postgres URL both also on the same PostgreSQL server (Optuna's RDB storage
through psycopg2; hnas's own PostgreSQL store).
Both sides: a warm-up study first. hnas reports the median of repeated studies; Optuna's
random sampler in memory the median of three (with SQLite, and TPE, far slower, run once;
a TPE run stops after --tpe-limit seconds and reports the trials it reached).

Usage: python3 bench/engine_overhead.py [--trials 1000,10000] [--hnas target/release/hnas]
       [--tpe-limit SECONDS] [--postgres postgres://USER@HOST:PORT/DB]
Run through bench/engine_overhead.sh, which installs Optuna from PyPI and builds hnas.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
import zlib

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def value(params):
    # Cheap and deterministic, like hnas's `hash` evaluator; its time is excluded anyway.
    return zlib.crc32("|".join(params).encode()) / 2**32


POSTGRES = None  # postgresql+psycopg2://... when --postgres is given


def optuna_overhead(sampler_name, storage_name, n, limit):
    sampler = optuna.samplers.RandomSampler(seed=0) if sampler_name == "random" else optuna.samplers.TPESampler(seed=0)
    tmp = None
    storage = None
    if storage_name == "sqlite":
        tmp = tempfile.mkdtemp()
        storage = f"sqlite:///{os.path.join(tmp, 'optuna.db')}"
    elif storage_name == "postgres":
        storage = POSTGRES
    study = optuna.create_study(direction="maximize", sampler=sampler, storage=storage)
    start = time.perf_counter()
    objective_time = 0.0
    done = 0
    for _ in range(n):
        trial = study.ask()
        params = [trial.suggest_categorical(f"e{j}", OPS) for j in range(6)]
        t = time.perf_counter()
        v = value(params)
        objective_time += time.perf_counter() - t
        study.tell(trial, v)
        done += 1
        if limit and time.perf_counter() - start > limit:
            break
    total = time.perf_counter() - start
    return (total - objective_time) / done, done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", default="1000,10000")
    ap.add_argument("--hnas", default="target/release/hnas")
    ap.add_argument("--tpe-limit", type=float, default=120.0,
                    help="stop a TPE run after this many seconds and report the trials it reached")
    ap.add_argument("--postgres", help="also measure both on this PostgreSQL database")
    a = ap.parse_args()
    global POSTGRES
    stores = ["memory", "sqlite"]
    if a.postgres:
        POSTGRES = "postgresql+psycopg2://" + a.postgres.split("://", 1)[1]
        stores.append("postgres")
    sizes = [int(x) for x in a.trials.split(",")]
    optuna_overhead("random", "memory", 200, None)  # warm-up, as hnas bench-engine does

    cmd = [a.hnas, "bench-engine", "--trials", a.trials, "--json", "--stores", ",".join(stores)]
    if a.postgres:
        cmd += ["--postgres", a.postgres]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    hnas = {(r["store"], r["trials"]): r["seconds_per_trial"] for r in map(json.loads, out.splitlines())}

    print(f"optuna {optuna.__version__}; per-trial overhead (ask + tell + storage), objective excluded")
    print(f"{'trials':>7} {'store':>7} {'hnas µs':>10} {'optuna random µs':>17} {'ratio':>8} {'optuna TPE µs':>14} {'ratio':>8}")
    for n in sizes:
        for store in stores:
            h = hnas[(store, n)]
            repeats = 3 if store == "memory" else 1
            r = sorted(optuna_overhead("random", store, n, None)[0] for _ in range(repeats))[repeats // 2]
            t, reached = optuna_overhead("tpe", store, n, a.tpe_limit)
            note = "" if reached == n else f" (TPE stopped at {reached} trials)"
            print(f"{n:>7} {store:>7} {h * 1e6:>10.1f} {r * 1e6:>17.1f} {r / h:>7.0f}x {t * 1e6:>14.1f} {t / h:>7.0f}x{note}",
                  flush=True)


if __name__ == "__main__":
    main()
