"""Per-trial engine overhead of hnas's Python API against Optuna, side by side in one run.

The objective is trivial (a number from the candidate's parameters), so the time per trial
is the engine's: asking the strategy, recording the trial, calling the function, telling the
result. Both run random search over the same kind of space: 6 categorical choices of 5
values and 2 integers in [0, 99] (hnas: a grammar; Optuna: suggest_* calls).
Usage: python bench/python_overhead.py [TRIALS (default 1000)] [REPEATS (default 3)]
"""

import os
import sys
import tempfile
import time

import hnas
import optuna

TRIALS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3

SPACE = """net = net(a = {0, 1, 2, 3, 4}, b = {0, 1, 2, 3, 4}, c = {0, 1, 2, 3, 4},
          d = {0, 1, 2, 3, 4}, e = {0, 1, 2, 3, 4}, f = {0, 1, 2, 3, 4},
          x = int(0, 99), y = int(0, 99))
"""


def hnas_objective(candidate):
    args = candidate.to_dict()["root"]["args"]
    return float(args["a"] + args["x"] - args["y"])


def optuna_objective(trial):
    vals = [trial.suggest_categorical(k, [0, 1, 2, 3, 4]) for k in "abcdef"]
    x = trial.suggest_int("x", 0, 99)
    y = trial.suggest_int("y", 0, 99)
    return float(vals[0] + x - y)


def run_hnas(storage):
    study = hnas.create_study(SPACE, strategy="random", seed=0, storage=storage, dedup="off")
    start = time.perf_counter()
    study.optimize(hnas_objective, n_trials=TRIALS)
    return time.perf_counter() - start


def run_optuna(storage):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0), storage=storage
    )
    start = time.perf_counter()
    study.optimize(optuna_objective, n_trials=TRIALS)
    return time.perf_counter() - start


def best_of(fn, make_storage):
    times = []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as d:
            times.append(fn(make_storage(d)))
    return min(times)


def main():
    print(f"{TRIALS} trials, random search, trivial objective; best of {REPEATS}")
    print(f"hnas {hnas.__version__}, optuna {optuna.__version__}, Python {sys.version.split()[0]}")
    print(f"{'store':8} {'hnas us/trial':>14} {'optuna us/trial':>16} {'ratio':>8}")
    cases = [
        ("memory", lambda d: None, lambda d: None),
        (
            "sqlite",
            lambda d: os.path.join(d, "hnas.db"),
            lambda d: "sqlite:///" + os.path.join(d, "optuna.db"),
        ),
    ]
    for name, hnas_store, optuna_store in cases:
        h = best_of(run_hnas, hnas_store) / TRIALS * 1e6
        o = best_of(run_optuna, optuna_store) / TRIALS * 1e6
        print(f"{name:8} {h:14.1f} {o:16.1f} {o / h:7.1f}x")


if __name__ == "__main__":
    main()
