#!/usr/bin/env python3
"""Figures of docs/weight-sharing.md from the CSVs bench/weight_sharing.sh writes.

Usage: weight_sharing.py TABLE WORKDIR DATASET SEEDS
  TABLE     the ground-truth table (hnas tabulate: arch, accuracy, train_seconds, flops,
            accuracy_seed0, accuracy_seed1)
  WORKDIR   holds os-DATASET-S.csv (one-shot scores of the table's networks, supernet seed S)
            and os-DATASET-S.seconds (wall time of supernet training plus scoring)
Prints Kendall tau of one-shot scores against standalone accuracy (mean +- s.e. over
supernet seeds), the table's seed-vs-seed tau (the noise ceiling), the FLOPs baseline, and
the simulated search: time until a top-1 % network is trained, networks taken in one-shot
order versus in random order. Standard library only.
"""
import csv
import math
import random
import statistics
import sys


def kendall(x, y):
    n = len(x)
    conc = disc = tx = ty = 0
    for i in range(n):
        for j in range(i + 1, n):
            a = (x[i] > x[j]) - (x[i] < x[j])
            b = (y[i] > y[j]) - (y[i] < y[j])
            if a == 0 and b == 0:
                continue
            if a == 0:
                tx += 1
            elif b == 0:
                ty += 1
            elif a == b:
                conc += 1
            else:
                disc += 1
    d = math.sqrt((conc + disc + tx) * (conc + disc + ty))
    return (conc - disc) / d if d else float("nan")


def mean_se(v):
    m = statistics.mean(v)
    se = statistics.stdev(v) / math.sqrt(len(v)) if len(v) > 1 else 0.0
    return m, se


def read(path):
    with open(path, newline="") as f:
        return {r["arch"]: r for r in csv.DictReader(f)}


def main():
    table_path, work, dataset, seeds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    table = read(table_path)
    archs = sorted(table)
    acc = [float(table[a]["accuracy"]) for a in archs]
    train_s = [float(table[a]["train_seconds"]) for a in archs]
    n = len(archs)
    threshold = sorted(acc, reverse=True)[max(0, math.ceil(0.01 * n) - 1)]
    print(f"{dataset}: {n} networks; top-1 % threshold {threshold:.2f} %; "
          f"mean standalone training {statistics.mean(train_s):.1f} s")
    if "accuracy_seed0" in table[archs[0]]:
        s0 = [float(table[a]["accuracy_seed0"]) for a in archs]
        s1 = [float(table[a]["accuracy_seed1"]) for a in archs]
        print(f"  noise ceiling: tau(seed 0, seed 1) = {kendall(s0, s1):.3f}")
    flops = [float(table[a]["flops"]) for a in archs]
    print(f"  FLOPs baseline: tau = {kendall(flops, acc):.3f}")
    taus, taus_loss, os_times, rand_times, speedups, score_s = [], [], [], [], [], []
    for s in range(seeds):
        scores = read(f"{work}/os-{dataset}-{s}.csv")
        oneshot = [float(scores[a]["accuracy"]) for a in archs]
        loss = [-float(scores[a]["loss"]) for a in archs]
        taus.append(kendall(oneshot, acc))
        taus_loss.append(kendall(loss, acc))
        score_s.append(statistics.mean(float(scores[a]["score_seconds"]) for a in archs))
        with open(f"{work}/os-{dataset}-{s}.seconds") as f:
            setup = float(f.read().strip())
        # One-shot rung: take networks best score first (ties by loss), train until a top-1 %.
        order = sorted(range(n), key=lambda i: (-oneshot[i], -loss[i]))
        t = setup
        for i in order:
            t += train_s[i]
            if acc[i] >= threshold:
                break
        os_times.append(t)
        rng = random.Random(1000 + s)
        order = list(range(n))
        rng.shuffle(order)
        t = 0.0
        for i in order:
            t += train_s[i]
            if acc[i] >= threshold:
                break
        rand_times.append(t)
        speedups.append(os_times[-1] / rand_times[-1])
    m, se = mean_se(taus)
    ml, sel = mean_se(taus_loss)
    print(f"  one-shot accuracy: tau = {m:.3f} +- {se:.3f}; one-shot loss: tau = {ml:.3f} +- {sel:.3f}"
          f" ({seeds} supernet seeds); {1000 * statistics.mean(score_s):.0f} ms per score")
    mo, seo = mean_se(os_times)
    mr, ser = mean_se(rand_times)
    print(f"  time to a top-1 % network: one-shot rung {mo:.0f} +- {seo:.0f} s, "
          f"training every candidate {mr:.0f} +- {ser:.0f} s; ratio of means {mo / mr:.2f}")


if __name__ == "__main__":
    main()
