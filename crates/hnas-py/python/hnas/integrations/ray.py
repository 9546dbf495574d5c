"""Ray Tune searcher whose suggestions come from an hnas study.

::

    from ray import tune
    from hnas.integrations.ray import HnasSearch

    def trainable(config):
        tree = config["tree"]                  # the candidate's derivation tree
        return {"accuracy": train(tree)}

    search = HnasSearch("examples/spaces/nb201.hnas", strategy="rea", storage="runs/ray.db",
                        metric="accuracy", mode="max")
    tuner = tune.Tuner(trainable, tune_config=tune.TuneConfig(
        search_alg=search, metric="accuracy", mode="max", num_samples=100))
    tuner.fit()

Each Ray trial gets ``config = {"candidate": ONE_LINE_FORM, "tree": DICT, "hnas_trial": N}``
(plus the ``param_space`` given to the Tuner, if any); every numeric field of its final result
is told to the study as a metric. The study lives in ``storage`` (an SQLite file or a
PostgreSQL URL), so it can be read with ``hnas trials``, resumed by another Tuner, by
``hnas.load_study`` or, for a named evaluator, by ``hnas search``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, Optional

from ray.tune.search import Searcher

import hnas


class HnasSearch(Searcher):
    """A Ray Tune ``Searcher`` backed by an hnas study (see the module's documentation).

    space: a ``.hnas`` path or the space's text; strategy: any hnas strategy spec;
    storage: where the study is kept (None: in memory, lost with the process);
    metric/mode: the Tune metric and ``"max"``/``"min"`` (Tune passes TuneConfig's to a
    searcher only when the Tuner has a ``param_space``, so give them here).
    """

    def __init__(
        self,
        space: Any = None,
        *,
        strategy: str = "rea",
        storage: Optional[str] = None,
        seed: int = 0,
        metric: Optional[str] = None,
        mode: Optional[str] = None,
        constraints: Iterable[str] = (),
        max_trials: Optional[int] = None,
    ):
        super().__init__(metric=metric, mode=mode)
        self._space = space
        self._strategy = strategy
        self._storage = None if storage is None else os.fspath(storage)
        self._seed = seed
        self._constraints = list(constraints)
        self._max_trials = max_trials
        self._study: Optional[hnas.Study] = None
        # Ray's trial id -> the hnas trial it runs.
        self._live: Dict[str, int] = {}

    def __getstate__(self) -> Dict[str, Any]:
        # Tune pickles its searcher with the experiment's state; the study is not pickled
        # but reopened from its storage where the copy is used.
        state = self.__dict__.copy()
        state["_study"] = None
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _open(self) -> None:
        if self._study is not None:
            return
        if self._metric is None or self._mode not in ("max", "min"):  # checked when first used
            raise ValueError(
                "HnasSearch needs metric and mode ('max' or 'min'): HnasSearch(..., metric='accuracy', mode='max')"
                " (Tune passes TuneConfig's only to a Tuner that has a param_space)"
            )
        self._study = hnas.create_study(
            self._space,
            strategy=self._strategy,
            objectives=[f"{self._mode}:{self._metric}"],
            constraints=self._constraints,
            storage=self._storage,
            seed=self._seed,
        )

    @property
    def study(self) -> hnas.Study:
        """The hnas study (opened at the first suggestion)."""
        self._open()
        assert self._study is not None
        return self._study

    def set_search_properties(self, metric: Optional[str], mode: Optional[str], config: Dict, **spec: Any) -> bool:
        if self._study is not None:
            return False
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        self._extra = dict(config or {})
        return True

    def suggest(self, trial_id: str) -> Optional[Dict[str, Any]]:
        study = self.study
        if self._max_trials is not None and study.n_counted >= self._max_trials:
            return Searcher.FINISHED
        trial = study.ask()
        if trial is None:
            return Searcher.FINISHED
        self._live[trial_id] = trial.number
        config = dict(getattr(self, "_extra", {}))
        config.update(
            {"candidate": trial.candidate.string, "tree": trial.candidate.to_dict(), "hnas_trial": trial.number}
        )
        return config

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        number = self._live.pop(trial_id, None)
        if number is None:
            return
        if error or not result:
            self.study.tell(number, "the Ray trial failed")
            return
        metrics = {
            k: float(v)
            for k, v in result.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if self._metric not in metrics:
            self.study.tell(number, f"the Ray trial reported no '{self._metric}'")
            return
        self.study.tell(number, metrics)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "storage": self._storage,
                    "space": self._space if isinstance(self._space, str) else os.fspath(self._space),
                    "strategy": self._strategy,
                    "seed": self._seed,
                    "metric": self._metric,
                    "mode": self._mode,
                    "live": self._live,
                },
                f,
            )

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, encoding="utf-8") as f:
            state = json.load(f)
        self._storage = state["storage"]
        self._space = state["space"]
        self._strategy = state["strategy"]
        self._seed = state["seed"]
        self._metric = state["metric"]
        self._mode = state["mode"]
        self._live = {k: int(v) for k, v in state["live"].items()}
        self._study = None
        if self._storage is not None:
            self._study = hnas.load_study(self._storage)
        else:
            self._open()
