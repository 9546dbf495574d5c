"""Several trials at once with a Python objective: hnas's optimize(jobs=N) against
Optuna's optimize(n_jobs=N), same function, same number of trials, in one run.

Two objectives: one that waits (time.sleep, standing for I/O or a training run in another
process) and one that computes in NumPy (BLAS releases the GIL, as PyTorch's kernels do).
Prints the wall time of each, the speed-up of N jobs over one, and hnas against Optuna.
Usage: python bench/python_jobs.py [TRIALS (default 16)] [JOBS (default 2)] [REPEATS (default 3)]
"""

import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core per trial, for both engines
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import optuna

import hnas

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = "net = net(x = int(0, 99), op = op)\nop = a | b | c | d\n"


def wait(x):
    time.sleep(0.1)
    return float(x)


def compute(x):
    rng = np.random.default_rng(x)
    a = rng.standard_normal((700, 700))
    for _ in range(6):
        a = a @ a.T
        a /= np.abs(a).max()
    return float(x)


def run_hnas(work, trials, jobs):
    study = hnas.create_study(SPACE, strategy="random", seed=1)
    start = time.perf_counter()
    study.optimize(lambda c: work(c.to_dict()["root"]["args"]["x"]), n_trials=trials, jobs=jobs)
    return time.perf_counter() - start


def run_optuna(work, trials, jobs):
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    start = time.perf_counter()
    study.optimize(
        lambda t: work(t.suggest_int("x", 0, 99) + 0 * len(t.suggest_categorical("op", ["a", "b", "c", "d"]))),
        n_trials=trials,
        n_jobs=jobs,
    )
    return time.perf_counter() - start


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    print(f"{trials} trials, {jobs} jobs, median of {repeats}; {os.cpu_count()} cores")
    print(f"{'objective':<10} {'engine':<7} {'1 job (s)':>10} {f'{jobs} jobs (s)':>11} {'speed-up':>9}")
    for name, work in (("sleep", wait), ("numpy", compute)):
        row = {}
        for engine, run in (("hnas", run_hnas), ("optuna", run_optuna)):
            one = statistics.median(run(work, trials, 1) for _ in range(repeats))
            many = statistics.median(run(work, trials, jobs) for _ in range(repeats))
            row[engine] = many
            print(f"{name:<10} {engine:<7} {one:>10.3f} {many:>11.3f} {one / many:>8.2f}x")
        print(f"{name:<10} hnas / optuna wall time at {jobs} jobs: {row['hnas'] / row['optuna']:.3f}")


if __name__ == "__main__":
    main()
