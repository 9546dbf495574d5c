"""hnas: hierarchical neural architecture search, from Python.

A search space is a grammar (a ``.hnas`` file or its text); a study searches it with one of
hnas's strategies, evaluating each candidate with your Python function, in this process::

    import hnas

    def accuracy(candidate):
        tree = candidate.to_dict()          # the derivation tree
        return train_and_score(tree)        # a number, or a dict of metrics

    study = hnas.create_study("examples/spaces/mlp.hnas", strategy="tpe", storage="runs/mlp.db")
    study.optimize(accuracy, n_trials=50)
    print(study.best_trial.value, study.best_trial.candidate)

The study file is the one ``hnas search`` writes: a study begun here resumes from the CLI
and back (docs/python.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

from ._hnas import Candidate, Outcome, Space, Study, Trial, __version__, check_space, stored_settings

__all__ = [
    "Candidate",
    "Outcome",
    "Space",
    "Strategy",
    "Study",
    "Trial",
    "create_study",
    "load_study",
    "check_space",
    "trials_dataframe",
    "__version__",
]

SpaceLike = Union[str, "os.PathLike[str]"]


class Strategy:
    """A search strategy written in Python: subclass it and pass an instance as
    ``create_study(..., strategy=MyStrategy())``. The study calls ``setup(space)`` once,
    then ``ask`` for each new trial and ``tell`` with each outcome, in the order they
    happen.

    ``deterministic``: True when ``ask`` proposes the same candidate given the same
    ``trial``, ``seed``, ``pending`` and earlier tells (draw randomness only from ``seed``);
    a resume then checks each stored trial by asking again. False (the default; a language
    model, a person): a resume tells the stored outcomes only and takes the stored trials
    as they are.
    """

    deterministic: bool = False

    def setup(self, space: Space) -> None:
        """Receives the study's space (``sample``, ``mutate``, ``crossover``, ``candidate``).
        A subclass that overrides it calls ``super().setup(space)`` (or keeps it itself)."""
        self.space = space

    def ask(self, trial: int, seed: int, pending: int) -> Union[Candidate, str, None]:
        """The candidate for trial number ``trial`` (a ``Candidate`` or its one-line form),
        or None when there is nothing left to propose. ``seed``: this trial's random seed;
        ``pending``: how many trials are asked and not yet told (an int)."""
        raise NotImplementedError(f"{type(self).__name__} must define ask(self, trial, seed, pending)")

    def tell(self, outcome: Outcome) -> None:
        """``outcome.trial``, ``.candidate``, ``.score`` (higher is better; None for a failed
        or infeasible trial) and ``.metrics``."""


def _read_space(space: SpaceLike) -> "tuple[str, str]":
    """(text, name) of a space given as a path to a .hnas file or as its text."""
    if isinstance(space, os.PathLike):
        path = Path(space)
        return path.read_text(encoding="utf-8"), str(path)
    if "\n" not in space and "=" not in space:
        path = Path(space)
        if not path.is_file():
            what = "a folder" if path.is_dir() else "no space file"
            raise FileNotFoundError(f"{what} {space!r}; pass a path to a .hnas file or the space's text")
        return path.read_text(encoding="utf-8"), str(path)
    return space, "<string>"


def create_study(
    space: SpaceLike,
    *,
    strategy: Union[str, Strategy] = "rea",
    evaluator: Optional[str] = None,
    objectives: Union[str, Iterable[str], None] = None,
    constraints: Union[str, Iterable[str]] = (),
    report: Union[str, Iterable[str]] = (),
    storage: Optional[SpaceLike] = None,
    seed: int = 0,
    dedup: str = "reuse",
) -> Study:
    """A new study, or the one already at ``storage`` (resumed: its settings must match).

    space: a path to a ``.hnas`` file, or the space's text.
    strategy: random, rea, ls, grid, mcts, tpe, bananas, qlearn, mapelites, nsga2, sh,
        hyperband, asha, bohb, with parameters as ``"rea:population=30,sample=10"``; or an
        instance of a ``hnas.Strategy`` subclass (stored as ``python:ClassName``).
    evaluator: None to evaluate with the function given to ``optimize`` (objective
        ``max:value`` by default); or a named evaluator such as ``"nb201:cifar10"``,
        ``"table:PATH"``, ``'command:["python3","train.py"]'`` (docs/studies.md).
    objectives: ``["max:METRIC"]``, ``["min:METRIC"]``, several for a Pareto front.
    constraints: ``["latency <= 5"]``: trials breaking one are infeasible.
    storage: None (in memory), an SQLite file, or ``postgres://USER@HOST/DB?study=NAME``.
    dedup: what to do with a network evaluated before: reuse (its result), skip, off.
    """
    text, name = _read_space(space)
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        raise TypeError(f"strategy={strategy.__name__}: pass an instance, {strategy.__name__}()")
    if not isinstance(strategy, (str, Strategy)):
        raise TypeError(
            f"strategy={strategy!r}: expected a spec such as 'rea' or an instance of a hnas.Strategy subclass"
        )
    objectives = _strings("objectives", objectives)
    constraints = _strings("constraints", constraints)
    report = _strings("report", report)
    return Study(
        text,
        name,
        strategy,
        evaluator,
        objectives,
        constraints,
        report,
        None if storage is None else os.fspath(storage),
        seed,
        dedup,
    )


def _strings(what: str, value: Any) -> List[str]:
    """A list of strings from one string or an iterable of them."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    items = list(value)
    if not all(isinstance(v, str) for v in items):
        raise TypeError(f"{what}: expected a string or a list of strings, got {value!r}")
    return items


def load_study(storage: SpaceLike, strategy: Optional[Strategy] = None) -> Study:
    """The study stored at ``storage`` (a file or a PostgreSQL URL), with its own settings:
    what ``hnas search --study`` resumes, and vice versa. A study searched by a Python
    strategy needs a fresh instance of it (``strategy=``)."""
    location = os.fspath(storage)
    settings = stored_settings(location)
    if settings is None:
        raise FileNotFoundError(f"no study at {location!r}")
    s: Dict[str, Any] = json.loads(settings)
    if s["strategy"].startswith("python:"):
        if strategy is None:
            raise ValueError(
                f"the study at {location!r} is searched by the Python strategy {s['strategy'][7:]}; "
                "pass an instance: load_study(storage, strategy=...)"
            )
        if f"python:{type(strategy).__name__}" != s["strategy"]:
            raise ValueError(f"the study was searched by {s['strategy'][7:]}, not {type(strategy).__name__}")
    objectives = s.get("objectives", s.get("objective", []))
    if isinstance(objectives, str):
        objectives = [objectives]
    evaluator = None if s["evaluator"] == "python" else s["evaluator"]
    return Study(
        s["space"],
        s["space_file"],
        strategy if strategy is not None else s["strategy"],
        evaluator,
        list(objectives),
        list(s.get("constraints", [])),
        list(s.get("report", [])),
        location,
        int(s["seed"]),
        s.get("dedup", "reuse"),
    )


def trials_dataframe(study: Study) -> Any:
    """The trials as a pandas DataFrame (one row per trial, one column per metric), or as
    a list of dicts when pandas is not installed."""
    rows: List[Dict[str, Any]] = []
    for t in study.trials:
        row: Dict[str, Any] = {
            "number": t.number,
            "state": t.state,
            "value": t.value,
            "candidate": t.candidate.string,
            "hash": t.candidate.hash,
            "duplicate_of": t.duplicate_of,
            "feasible": t.feasible,
            "error": t.error,
        }
        row.update(t.metrics)
        rows.append(row)
    try:
        import pandas  # type: ignore
    except ImportError:
        return rows
    return pandas.DataFrame(rows)

Objective = Callable[[Candidate], Union[float, Dict[str, float]]]
