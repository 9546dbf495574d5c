"""hnas.integrations.ray against a local Ray instance (2 CPUs): Tune runs hnas's strategy,
every result lands in the study file, and a second Tuner continues the same study."""

import os
import sys

import pytest

if os.environ.get("CI") == "true":
    import ray  # CI installs ray[tune]: a missing Ray fails here, not skips
else:
    ray = pytest.importorskip("ray")

from ray import tune  # noqa: E402

import hnas  # noqa: E402
from hnas.integrations.ray import HnasSearch  # noqa: E402

TINY = "net = net(x = int(0, 11), op = op)\nop = a | b | c | d\n"


def trainable(config):
    args = config["tree"]["root"]["args"]
    if args["x"] == 0:
        raise RuntimeError("x = 0 diverges")
    return {"score": -abs(args["x"] - 7) + (1.0 if args["op"]["op"] == "c" else 0.0), "x": args["x"]}


@pytest.fixture(scope="module")
def local_ray():
    # Ray's workers cannot import this test file as a module: ship its functions by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def run(search, n, tmp_path, name):
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=search, metric="score", mode="max", num_samples=n),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "ray"), name=name, verbose=0),
    )
    return tuner.fit()


def test_tune_runs_an_hnas_strategy_and_the_study_keeps_every_trial(local_ray, tmp_path):
    path = tmp_path / "ray.db"
    search = HnasSearch(TINY, strategy="grid", storage=str(path), metric="score", mode="max")
    results = run(search, 12, tmp_path, "first")
    assert len(results) == 12
    study = hnas.load_study(path)
    trials = study.trials
    assert len(trials) == 12
    assert {t.state for t in trials} <= {"complete", "failed"}
    # Ray's results are the study's, trial for trial.
    ray_best = results.get_best_result(metric="score", mode="max", filter_nan_and_inf=True)
    assert study.best_trial.value == ray_best.metrics["score"]
    assert study.best_trial.metrics["x"] == ray_best.metrics["x"]
    failed = [t for t in trials if t.state == "failed"]
    assert all(t.candidate.to_dict()["root"]["args"]["x"] == 0 for t in failed)

    # Resume: a second Tuner on the same study file goes on from where the first stopped
    # (grid search proposes the members it has not yet proposed).
    again = HnasSearch(TINY, strategy="grid", storage=str(path), metric="score", mode="max")
    run(again, 12, tmp_path, "second")
    study = hnas.load_study(path)
    assert len(study.trials) == 24
    assert len({t.candidate.string for t in study.trials}) == 24
    assert study.best_trial.value == max(t.value for t in study.trials if t.state == "complete")
    assert [t.number for t in study.trials] == list(range(24))


def test_the_searcher_saves_and_restores_its_state(tmp_path):
    path = tmp_path / "s.db"
    search = HnasSearch(TINY, strategy="random", storage=str(path), metric="score", mode="max")
    config = search.suggest("t1")
    search.save(str(tmp_path / "ckpt.json"))
    restored = HnasSearch()
    restored.restore(str(tmp_path / "ckpt.json"))
    # The restored searcher finishes the trial the first one handed out.
    restored.on_trial_complete("t1", {"score": 3.5, "config": config, "done": True})
    study = hnas.load_study(path)
    assert study.trials[0].state == "complete" and study.trials[0].value == 3.5
