"""An objective that is a plain Python function: a small MLP's validation error on a
synthetic regression task, fitted with numpy-free gradient descent (stands in for your
PyTorch training loop), searched by TPE with the study kept in runs/objective.db."""
import math
import random

import hnas

SPACE = """
net = mlp(width = {4, 8, 16, 32}, depth = int(1, 3), lr = logfloat(0.001, 0.3), act = {tanh, relu})
"""

random.seed(0)
DATA = [(x / 50.0, math.sin(x / 8.0)) for x in range(-100, 100)]


def train(width, depth, lr, act, steps=150):
    rng = random.Random(1)
    f = math.tanh if act == "tanh" else (lambda v: max(0.0, v))
    # One hidden layer of `width` units, `depth` times narrower learning per extra layer:
    # a toy, but every choice changes the result.
    w1 = [rng.gauss(0, 1) for _ in range(width)]
    b1 = [rng.gauss(0, 0.5) for _ in range(width)]
    w2 = [rng.gauss(0, 1 / math.sqrt(width)) for _ in range(width)]
    step = lr / depth
    for _ in range(steps):
        x, y = DATA[rng.randrange(len(DATA))]
        h = [f(w * x + b) for w, b in zip(w1, b1)]
        err = sum(a * v for a, v in zip(w2, h)) - y
        for i in range(width):
            g = err * w2[i] * ((1 - h[i] ** 2) if act == "tanh" else (1.0 if h[i] > 0 else 0.0))
            w2[i] -= step * err * h[i]
            w1[i] -= step * g * x
            b1[i] -= step * g
    preds = [sum(a * f(w * x + b) for a, w, b in zip(w2, w1, b1)) for x, _ in DATA]
    return sum((p - y) ** 2 for p, (_, y) in zip(preds, DATA)) / len(DATA)


def objective(candidate):
    a = candidate.to_dict()["root"]["args"]
    return {"mse": train(a["width"], a["depth"], a["lr"], a["act"])}


study = hnas.create_study(SPACE, strategy="tpe", objectives=["min:mse"], storage="runs/objective.db")
study.optimize(objective, n_trials=30)
print(f"{len(study.trials)} trials; best mse {study.best_trial.value:.4f}: {study.best_trial.candidate}")
