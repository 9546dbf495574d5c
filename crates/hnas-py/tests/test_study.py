"""The hnas Python package against the real engine: in-process objectives, failures,
interrupts, storage and resume, ask/tell, and the CLI reading and resuming the same study."""

import math
import os
import subprocess
from pathlib import Path

import pytest

import hnas

ROOT = Path(os.environ.get("HNAS_ROOT", Path(__file__).resolve().parents[3]))
SPACES = ROOT / "examples" / "spaces"

# Twelve values of x and four ops: 48 members, one best.
TINY = "net = net(x = int(0, 11), op = op)\nop = a | b | c | d\n"


def score(candidate):
    args = candidate.to_dict()["root"]["args"]
    return -abs(args["x"] - 7) + (1.0 if args["op"]["op"] == "c" else 0.0)


def hnas_bin():
    path = Path(os.environ.get("HNAS_BIN", ROOT / "target" / "debug" / "hnas"))
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: no hnas binary at {path} (cargo test --workspace builds it)")
        pytest.skip(f"no hnas binary at {path}")
    return str(path)


def test_optimize_calls_the_function_in_process_and_finds_the_best():
    calls = []

    def f(c):
        calls.append(c.string)
        return score(c)

    study = hnas.create_study(TINY, strategy="grid")
    assert study.optimize(f, n_trials=48) == 48
    assert len(calls) == 48 and len(set(calls)) == 48
    best = study.best_trial
    assert best.value == 1.0
    assert best.candidate.to_dict()["root"]["args"]["x"] == 7
    assert best.candidate.string == "net(x=7,op=c)"
    assert all(t.state == "complete" for t in study.trials)
    # More trials extend the study; grid has nothing left after the 48.
    study.optimize(f, n_trials=5)
    assert len(study.trials) == 48


def test_exceptions_nans_and_bad_returns_are_failed_trials_and_the_search_goes_on():
    def f(c):
        x = c.to_dict()["root"]["args"]["x"]
        if x == 1:
            raise ValueError("diverged at x = 1")
        if x == 2:
            return float("nan")
        if x == 3:
            return "oops"
        if x == 4:
            return {"value": "high"}
        return float(x)

    study = hnas.create_study(TINY, strategy="grid")
    study.optimize(f, n_trials=48)
    by_x = {}
    for t in study.trials:
        by_x.setdefault(t.candidate.to_dict()["root"]["args"]["x"], t)
    assert by_x[1].state == "failed" and by_x[1].error == "ValueError: diverged at x = 1"
    assert by_x[2].state == "failed" and by_x[2].error == "metric 'value' is NaN"
    assert by_x[3].state == "failed" and "expected a number or a dict" in by_x[3].error
    assert by_x[4].state == "failed" and by_x[4].error == "metric 'value' is 'high', not a number"
    assert study.best_trial.value == 11.0
    assert sum(t.state == "complete" for t in study.trials) == 48 - 4 * 4


def test_a_dict_of_metrics_and_several_objectives_give_a_front():
    def f(c):
        x = c.to_dict()["root"]["args"]["x"]
        return {"acc": float(x), "cost": float(x * x)}

    study = hnas.create_study(TINY, strategy="grid", objectives=["max:acc", "min:cost"])
    study.optimize(f, n_trials=48)
    front = study.pareto_front()
    # Every x trades accuracy for cost: one network per x on the front.
    assert sorted({t.metrics["acc"] for t in front}) == [float(x) for x in range(12)]
    with pytest.raises(ValueError, match="no default objective"):
        hnas.create_study(TINY, evaluator='command:["python3", "train.py"]')


def test_a_stored_study_resumes_to_what_one_run_gives(tmp_path):
    space = SPACES / "nb201.hnas"

    def f(c):
        return (int(c.hash, 16) % 1000) / 1000.0

    one = hnas.create_study(space, strategy="rea:population=8,sample=3", seed=4, storage=tmp_path / "one.db")
    one.optimize(f, n_trials=30)
    split = hnas.create_study(space, strategy="rea:population=8,sample=3", seed=4, storage=tmp_path / "split.db")
    split.optimize(f, n_trials=12)
    del split
    again = hnas.load_study(tmp_path / "split.db")
    assert len(again.trials) == 12
    again.optimize(f, n_trials=18)
    assert [t.candidate.string for t in again.trials] == [t.candidate.string for t in one.trials]
    # Other settings on the same file are refused.
    with pytest.raises(ValueError, match="other settings"):
        hnas.create_study(space, strategy="random", seed=4, storage=tmp_path / "one.db")


def test_ctrl_c_in_the_objective_stops_cleanly_and_the_study_resumes(tmp_path):
    seen = []

    def f(c):
        seen.append(c.string)
        if len(seen) == 5:
            raise KeyboardInterrupt
        return score(c)

    path = tmp_path / "s.db"
    study = hnas.create_study(TINY, strategy="random", seed=1, storage=path)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(f, n_trials=20)
    stopped_at = len(study.trials)
    del study
    resumed = hnas.load_study(path)
    # Nothing half-written: the interrupted trial is not stored, the others are complete.
    assert len(resumed.trials) == stopped_at
    assert all(t.state == "complete" for t in resumed.trials)
    again = []

    def g(c):
        again.append(c.string)
        return score(c)

    resumed.optimize(g, n_trials=20 - resumed.n_counted)
    assert resumed.n_counted == 20
    assert all(t.state == "complete" for t in resumed.trials)
    # The interrupted trial is asked again first: the same candidate.
    assert again[0] == seen[4]


def test_ask_and_tell_drive_the_study_by_hand():
    study = hnas.create_study(TINY, strategy="tpe", seed=2)
    for _ in range(20):
        trial = study.ask()
        assert trial.state == "running"
        study.tell(trial, score(trial.candidate))
    last = study.trials[-1]
    with pytest.raises(ValueError, match="finished already"):
        study.tell(last, 0.0)
    t = study.ask()
    study.tell(t.number, RuntimeError("out of memory"))
    assert study.trials[t.number].state == "failed"
    assert study.trials[t.number].error == "RuntimeError: out of memory"
    assert study.best_trial.value == max(x.value for x in study.trials if x.value is not None)


def test_candidates_and_spaces():
    study = hnas.create_study(TINY)
    c = study.candidate("net(x=3,op=b)")
    assert c.to_dict() == {"root": {"op": "net", "args": {"x": 3, "op": {"op": "b"}}}, "shared": {}}
    assert c == study.candidate("net(x = 3, op = b)")
    assert len(c.hash) == 16 and hash(c) == hash(study.candidate("net(x = 3, op = b)"))
    assert c != study.candidate("net(x=3,op=c)")
    with pytest.raises(ValueError):
        study.candidate("net(x=99,op=b)")
    with pytest.raises(ValueError, match=r"bad\.hnas:2:"):
        hnas.check_space("net = a(x = y)\ny = = b\n", "bad.hnas")
    assert hnas.check_space(TINY, "tiny.hnas") == "48"
    with pytest.raises(FileNotFoundError):
        hnas.create_study("no/such/space.hnas")


def test_the_nb201_table_gives_the_cli_trials_and_the_cli_resumes_a_python_study(tmp_path):
    cli = hnas_bin()
    space = SPACES / "nb201.hnas"
    py_path = tmp_path / "py.db"
    study = hnas.create_study(space, evaluator="nb201:cifar10", strategy="bananas", seed=3, storage=py_path)
    study.optimize(n_trials=30)
    cli_path = tmp_path / "cli.db"
    base = [cli, "search", "--space", str(space), "--evaluator", "nb201:cifar10", "--strategy", "bananas", "--seed", "3", "-q"]
    subprocess.run(base + ["--budget", "30", "--study", str(cli_path)], check=True, capture_output=True)
    from_cli = hnas.load_study(cli_path)
    assert [t.candidate.string for t in from_cli.trials] == [t.candidate.string for t in study.trials]
    assert [t.value for t in from_cli.trials] == [t.value for t in study.trials]
    del study
    # The CLI extends the study Python began, and Python reads what it added.
    subprocess.run(base + ["--budget", "40", "--study", str(py_path)], check=True, capture_output=True)
    back = hnas.load_study(py_path)
    assert len(back.trials) == 40
    best = back.best_trial
    assert best.metrics["valid_12"] == best.value and "test_200" in best.metrics
    rows = back.trials_dataframe()
    assert len(rows) == 40


def test_a_timeout_stops_between_trials():
    import time

    def slow(c):
        time.sleep(0.05)
        return score(c)

    study = hnas.create_study(TINY, strategy="random")
    start = time.time()
    study.optimize(slow, n_trials=1000, timeout=0.3)
    assert time.time() - start < 2.0
    assert 2 <= len(study.trials) < 40
    assert not math.isnan(study.best_trial.value)


class BestMutation(hnas.Strategy):
    """Mutates the best candidate so far; samples while nothing is told. Deterministic."""

    deterministic = True

    def __init__(self):
        self.best = None
        self.told = []

    def ask(self, trial, seed, pending):
        if self.best is None or trial % 10 == 0:
            return self.space.sample(seed)
        return self.space.mutate(self.best[1], seed)

    def tell(self, outcome):
        self.told.append(outcome.trial)
        if outcome.score is not None and (self.best is None or outcome.score > self.best[0]):
            self.best = (outcome.score, outcome.candidate)


def test_a_strategy_written_in_python_drives_a_study_and_resumes(tmp_path):
    space = SPACES / "nb201.hnas"
    path = tmp_path / "s.db"
    strategy = BestMutation()
    study = hnas.create_study(space, evaluator="nb201:cifar10", strategy=strategy, seed=5, storage=path)
    study.optimize(n_trials=40)
    assert study.settings["strategy"] == "python:BestMutation"
    assert strategy.told == list(range(40))
    one = [t.candidate.string for t in study.trials]
    del study
    with pytest.raises(ValueError, match="pass an instance"):
        hnas.load_study(path)
    again = hnas.load_study(path, strategy=BestMutation())
    again.optimize(n_trials=20)
    straight = hnas.create_study(space, evaluator="nb201:cifar10", strategy=BestMutation(), seed=5)
    straight.optimize(n_trials=60)
    assert [t.candidate.string for t in again.trials] == [t.candidate.string for t in straight.trials]
    assert one == [t.candidate.string for t in straight.trials][:40]
    # Better than its first ten samples: it climbs.
    assert straight.best_trial.value > max(t.value for t in straight.trials[:10])


class Oracle(hnas.Strategy):
    """Proposes from a source it cannot replay (a stand-in for a language model)."""

    def __init__(self, lines, fail_at=None):
        self.lines = list(lines)
        self.fail_at = fail_at
        self.outcomes = []

    def ask(self, trial, seed, pending):
        if trial == self.fail_at:
            raise RuntimeError("the model is unreachable")
        return self.lines.pop(0) if self.lines else None

    def tell(self, outcome):
        self.outcomes.append((outcome.trial, outcome.score))


def test_a_strategy_that_cannot_replay_is_told_the_stored_outcomes_on_resume(tmp_path):
    path = tmp_path / "o.db"
    lines = [f"net(x={x},op=b)" for x in range(12)]
    study = hnas.create_study(TINY, strategy=Oracle(lines[:5]), storage=path)
    study.optimize(score, n_trials=10)
    assert len(study.trials) == 5  # it had nothing more to propose
    del study
    fresh = Oracle(lines[5:])
    resumed = hnas.load_study(path, strategy=fresh)
    assert [t for t, _ in fresh.outcomes] == [0, 1, 2, 3, 4]
    resumed.optimize(score, n_trials=7)
    assert [t.candidate.string for t in resumed.trials] == lines
    best = resumed.best_trial
    assert best.candidate.string == "net(x=7,op=b)"


def test_a_failing_or_wrong_python_strategy_says_why():
    with pytest.raises(RuntimeError, match="the model is unreachable"):
        hnas.create_study(TINY, strategy=Oracle(["net(x=1,op=a)"] * 5, fail_at=2)).optimize(score, n_trials=5)
    with pytest.raises(ValueError, match="not in the space"):
        hnas.create_study(TINY, strategy=Oracle(["net(x=99,op=a)"])).optimize(score, n_trials=1)


@pytest.mark.parametrize("name", ["nb201.py", "objective.py", "strategy.py"])
def test_the_python_examples_run(name, tmp_path):
    # Run from a copy of the checkout's layout: they read examples/spaces and write runs/.
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    out = subprocess.run(
        [os.environ.get("PYTHON", __import__("sys").executable), str(ROOT / "examples" / "python" / name)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "best" in out.stdout


def test_the_cli_says_how_to_resume_a_study_only_python_can_run(tmp_path):
    cli = hnas_bin()
    by_function = tmp_path / "f.db"
    hnas.create_study(TINY, storage=by_function).optimize(score, n_trials=3)
    out = subprocess.run([cli, "search", "--study", str(by_function), "--budget", "5"], capture_output=True, text=True)
    assert out.returncode == 1
    assert "evaluated by a Python function" in out.stderr and "hnas.load_study" in out.stderr
    # Reading it works.
    shown = subprocess.run([cli, "trials", "--study", str(by_function), "--format", "csv"], capture_output=True, text=True)
    assert shown.returncode == 0 and len(shown.stdout.strip().splitlines()) == 4
    by_strategy = tmp_path / "s.db"
    hnas.create_study(SPACES / "nb201.hnas", evaluator="nb201:cifar10", strategy=BestMutation(), storage=by_strategy).optimize(n_trials=3)
    out = subprocess.run([cli, "search", "--study", str(by_strategy), "--budget", "5"], capture_output=True, text=True)
    assert out.returncode == 1
    assert "hnas.load_study(PATH, strategy=BestMutation())" in out.stderr


def test_arguments_are_checked_and_silent_outcomes_are_said():
    study = hnas.create_study(TINY, strategy="random")
    assert study.optimize(score, n_trials=0) == 0 and study.trials == []
    with pytest.raises(TypeError, match="takes a function of a candidate"):
        study.optimize(5, n_trials=3)
    with pytest.raises(ValueError, match="timeout=-5"):
        study.optimize(score, n_trials=3, timeout=-5)
    with pytest.raises(ValueError, match="n_trials=-1"):
        study.optimize(score, n_trials=-1)
    with pytest.raises(ValueError, match="jobs=0"):
        study.optimize(score, n_trials=3, jobs=0)
    with pytest.raises(ValueError, match="needs a timeout"):
        study.optimize(score, n_trials=None)
    with pytest.raises(TypeError, match="expected a spec"):
        hnas.create_study(TINY, strategy=3)
    with pytest.raises(TypeError, match="pass an instance"):
        hnas.create_study(TINY, strategy=BestMutation)
    # One objective may be a plain string.
    s = hnas.create_study(TINY, objectives="min:value")
    s.optimize(score, n_trials=5)
    assert s.settings["objectives"] == ["min:value"]
    with pytest.warns(UserWarning, match="all 4 trials of this run failed; the first: KeyError"):
        hnas.create_study(TINY, strategy="random").optimize(lambda c: c.to_dict()["nope"], n_trials=4)
    # Under dedup="skip" a space used up ends the run early, and says so.
    with pytest.warns(UserWarning, match="stopped before its budget"):
        hnas.create_study(TINY, strategy="grid", dedup="skip").optimize(score, n_trials=60)
    # Until a timeout, with no count.
    timed = hnas.create_study(TINY, strategy="random", dedup="off")
    timed.optimize(score, n_trials=None, timeout=0.2)
    assert len(timed.trials) > 0


def test_report_writes_the_figures_the_cli_draws(tmp_path):
    cli = hnas_bin()

    def f(c):
        x = c.to_dict()["root"]["args"]["x"]
        return {"acc": float(x), "cost": float(x * x)}

    db = tmp_path / "two.db"
    study = hnas.create_study(TINY, strategy="random", objectives=["max:acc", "min:cost"], storage=db, seed=2)
    study.optimize(f, n_trials=20)
    files = study.report(tmp_path / "py")
    names = [Path(p).name for p in files]
    assert names == ["index.html", "best.svg", "front.svg", "decisions.svg"]
    page = (tmp_path / "py" / "index.html").read_text()
    assert "Pareto front" in page and "Leaderboard" in page
    subprocess.run([cli, "report", "--study", str(db), "--out", str(tmp_path / "cli")], check=True, capture_output=True)
    for name in names[1:]:
        assert (tmp_path / "py" / name).read_text() == (tmp_path / "cli" / name).read_text(), name
    # An in-memory study reports too; one with no trials yet says so on its page.
    empty = hnas.create_study(TINY)
    assert [Path(p).name for p in empty.report(tmp_path / "empty")] == ["index.html"]
    assert "no trials yet" in (tmp_path / "empty" / "index.html").read_text()


def test_to_torch_gives_the_cli_export(tmp_path):
    cli = hnas_bin()
    space = SPACES / "nb201.hnas"
    db = tmp_path / "nb.db"
    study = hnas.create_study(space, evaluator="nb201:cifar10", strategy="random", seed=5, storage=db)
    study.optimize(n_trials=3)
    best = study.best_trial
    src = best.candidate.to_torch((3, 32, 32), 10, channels=16, cells=5)
    assert src == best.candidate.to_torch("3x32x32", 10, channels=16, cells=5)
    compile(src, "net.py", "exec")  # valid Python, without needing torch
    out = subprocess.run(
        [cli, "export", "--study", str(db), "--trial", str(best.number), "--format", "pytorch"],
        check=True, capture_output=True, text=True,
    ).stdout
    body = lambda text: [line for line in text.splitlines() if not line.startswith("# Generated") and not line.startswith("# Space") and not line.startswith("# Candidate") and not line.startswith("# Metrics")]
    assert body(src) == body(out)
    # Fewer cells: a smaller network.
    assert src != best.candidate.to_torch((3, 32, 32), 10, channels=16, cells=1)
    with pytest.raises(ValueError, match="not a network"):
        hnas.create_study(TINY).candidate("net(x=3,op=b)").to_torch("1x40", 10)
    with pytest.raises(ValueError, match="input"):
        best.candidate.to_torch("3xx32", 10)


def test_several_python_trials_run_at_once_where_the_function_releases_the_gil(tmp_path):
    import threading
    import time

    def measured(jobs):
        lock = threading.Lock()
        state = {"now": 0, "most": 0, "threads": set()}

        def f(c):
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
                state["threads"].add(threading.get_ident())
            time.sleep(0.05)  # releases the GIL, as PyTorch's kernels do
            with lock:
                state["now"] -= 1
            if c.to_dict()["root"]["args"]["x"] == 5:
                raise RuntimeError("x = 5 crashes")
            return score(c)

        study = hnas.create_study(TINY, strategy="random", seed=9, storage=tmp_path / f"j{jobs}.db")
        study.optimize(f, n_trials=16, jobs=jobs)
        return study, state

    one, s1 = measured(1)
    four, s4 = measured(4)
    assert s1["most"] == 1
    assert s4["most"] >= 2, "trials overlapped"
    assert len(s4["threads"]) >= 2
    for study in (one, four):
        counted = [t for t in study.trials if t.state in ("complete", "failed")]
        assert len(counted) >= 16
        failed = [t for t in study.trials if t.state == "failed"]
        assert all("x = 5 crashes" in t.error for t in failed)
        assert all(t.candidate.to_dict()["root"]["args"]["x"] == 5 for t in failed)
    # Random search proposes the same candidates whatever runs at once.
    firsts = lambda s: sorted(t.candidate.string for t in s.trials[:16])
    assert firsts(one) == firsts(four)
