"""A small real task from Python, hnas against Optuna: choose a scikit-learn pipeline
(scaling, then an SVM, a random forest or k-nearest neighbours with their own parameters)
for the digits dataset (bundled with scikit-learn), scored by 3-fold cross-validation;
15 trials of random search each, over several seeds; wall time and best accuracy.
Usage: python bench/python_sklearn.py [SEEDS (default 5)] [TRIALS (default 15)]
"""

import statistics
import sys
import time

import optuna
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC

import hnas

SEEDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
TRIALS = int(sys.argv[2]) if len(sys.argv) > 2 else 15
X, Y = load_digits(return_X_y=True)

SPACE = """
pipe = pipe(scale = {none, standard, minmax}, model = model)
model = svc(c = logfloat(0.01, 100.0), gamma = logfloat(0.0001, 1.0))
      | forest(trees = int(10, 200), depth = int(2, 20))
      | knn(k = int(1, 30))
"""


def score(scale, model, params):
    steps = []
    if scale == "standard":
        steps.append(StandardScaler())
    elif scale == "minmax":
        steps.append(MinMaxScaler())
    if model == "svc":
        steps.append(SVC(C=params["c"], gamma=params["gamma"]))
    elif model == "forest":
        steps.append(RandomForestClassifier(n_estimators=params["trees"], max_depth=params["depth"], random_state=0))
    else:
        steps.append(KNeighborsClassifier(n_neighbors=params["k"]))
    return cross_val_score(make_pipeline(*steps), X, Y, cv=3).mean()


def hnas_objective(candidate):
    args = candidate.to_dict()["root"]["args"]
    model = args["model"]
    return score(args["scale"], model["op"], model.get("args", {}))


def optuna_objective(trial):
    scale = trial.suggest_categorical("scale", ["none", "standard", "minmax"])
    model = trial.suggest_categorical("model", ["svc", "forest", "knn"])
    if model == "svc":
        params = {"c": trial.suggest_float("c", 0.01, 100.0, log=True), "gamma": trial.suggest_float("gamma", 1e-4, 1.0, log=True)}
    elif model == "forest":
        params = {"trees": trial.suggest_int("trees", 10, 200), "depth": trial.suggest_int("depth", 2, 20)}
    else:
        params = {"k": trial.suggest_int("k", 1, 30)}
    return score(scale, model, params)


def run_hnas(seed):
    study = hnas.create_study(SPACE, strategy="random", seed=seed, dedup="off")
    start = time.perf_counter()
    study.optimize(hnas_objective, n_trials=TRIALS)
    return time.perf_counter() - start, study.best_trial.value


def run_optuna(seed):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    start = time.perf_counter()
    study.optimize(optuna_objective, n_trials=TRIALS)
    return time.perf_counter() - start, study.best_value


def mean_se(xs):
    return statistics.mean(xs), (statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) > 1 else 0.0)


def main():
    print(f"digits, {TRIALS} trials of random search, {SEEDS} seeds; hnas {hnas.__version__}, optuna {optuna.__version__}")
    rows = []
    for name, run in [("hnas", run_hnas), ("optuna", run_optuna)]:
        results = [run(seed) for seed in range(SEEDS)]
        t, t_se = mean_se([r[0] for r in results])
        a, a_se = mean_se([r[1] for r in results])
        rows.append((name, t, t_se, a, a_se))
        print(f"{name:7} wall {t:6.2f} ± {t_se:4.2f} s   best 3-fold accuracy {a:.4f} ± {a_se:.4f}")
    print(f"hnas / optuna wall time: {rows[0][1] / rows[1][1]:.2f}")


if __name__ == "__main__":
    main()
