//! The study driver: resume, failures, duplicates, settings.

use hnas_eval::{EvalError, Evaluator, Metrics};
use hnas_space::{Candidate, Space};
use hnas_store::{MemoryStore, Store, TrialState};
use hnas_study::{Dedup, Error, Settings, Study};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const SPACE: &str =
    "net = net(a = int(0, 15), b = int(0, 15), op = op)\nop = bad | good | ugly | fine";

/// Score -(|a-7| + |b-3|) (+1 for `good`); `bad` fails, `ugly` returns NaN, a = 13 panics,
/// and a = `fatal_a` is a configuration error. Counts its calls.
struct TestEval {
    calls: AtomicUsize,
    fatal_a: Option<i64>,
}

impl TestEval {
    fn new() -> Arc<Self> {
        Arc::new(TestEval {
            calls: AtomicUsize::new(0),
            fatal_a: None,
        })
    }
}

impl Evaluator for TestEval {
    fn name(&self) -> &str {
        "test"
    }
    fn metrics(&self) -> Vec<String> {
        vec!["score".into(), "a".into()]
    }
    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        _f: Option<f64>,
    ) -> Result<Metrics, EvalError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let j = space.to_json(c);
        let a = j["root"]["args"]["a"].as_i64().unwrap();
        let b = j["root"]["args"]["b"].as_i64().unwrap();
        let op = j["root"]["args"]["op"]["op"].as_str().unwrap().to_string();
        if Some(a) == self.fatal_a {
            return Err(EvalError::Fatal("the table is gone".into()));
        }
        if a == 13 {
            panic!("boom at a = 13");
        }
        match op.as_str() {
            "bad" => Err(EvalError::Failed("bad op crashed".into())),
            "ugly" => Ok(Metrics::from([
                ("score".into(), f64::NAN),
                ("a".into(), a as f64),
            ])),
            _ => {
                let s = -(((a - 7).abs() + (b - 3).abs()) as f64)
                    + if op == "good" { 1.0 } else { 0.0 };
                Ok(Metrics::from([("score".into(), s), ("a".into(), a as f64)]))
            }
        }
    }
}

fn settings(strategy: &str, budget: u64, seed: u64) -> Settings {
    Settings {
        space_file: "test.hnas".into(),
        space: SPACE.into(),
        strategy: strategy.into(),
        evaluator: "test".into(),
        objectives: vec!["max:score".into()],
        constraints: vec![],
        report: vec![],
        seed,
        budget,
        max_cost: None,
        fidelity: None,
        prior: None,
        dedup: Dedup::Reuse,
    }
}

/// (number, candidate, state, value) of every trial.
fn digest(study: &Study) -> Vec<(u64, String, TrialState, Option<u64>)> {
    study
        .trials()
        .iter()
        .map(|t| {
            (
                t.number,
                t.candidate.clone(),
                t.state,
                t.value.map(f64::to_bits),
            )
        })
        .collect()
}

fn run(s: Settings, store: Box<dyn Store>) -> Study {
    let mut study = Study::open(s, TestEval::new(), store).unwrap();
    study.run(&mut |_| {}).unwrap();
    study
}

#[test]
fn resuming_ends_with_the_same_trials_for_every_strategy() {
    for strategy in [
        "random",
        "rea:population=8,sample=3",
        "ls",
        "grid",
        "mcts",
        "tpe:startup=8",
        "bananas:startup=8,pool=30,random=30,ensemble=2,hidden=8",
        "qlearn:population=8,sample=3",
        "mapelites:x=a:0:16:4,y=count.good:0:2:2,init=8",
        "nsga2:population=8",
        "sh:rungs=1/3/9",
        "hyperband:rungs=1/3/9",
        "asha:rungs=1/3/9",
        "bohb:rungs=1/3,n=6",
    ] {
        let straight = run(settings(strategy, 90, 7), Box::new(MemoryStore::new()));

        // Stop after 31 trials, and pretend the process died while trial 30 was being evaluated.
        let first = run(settings(strategy, 31, 7), Box::new(MemoryStore::new()));
        let mut store = first.into_store();
        let mut t = store.trials().unwrap().pop().unwrap();
        t.state = TrialState::Running;
        t.metrics.clear();
        t.value = None;
        t.error = None;
        t.tell_seq = None;
        t.finished_at = None;
        if t.duplicate_of.is_none() {
            store.update_trial(&t).unwrap();
        }
        let resumed = run(settings(strategy, 90, 7), store);
        assert_eq!(digest(&resumed), digest(&straight), "{strategy}");
        assert!(resumed.trials().iter().all(|t| t.state.is_finished()));
    }
}

#[test]
fn every_strategy_survives_failures_and_duplicates_and_finds_the_optimum() {
    // Budget 400 of a 1,024-cell space where a quarter fails, a quarter is NaN and a = 13 panics.
    for strategy in [
        "rea:population=10,sample=3",
        "mcts",
        "tpe",
        "bananas:pool=60,random=60",
        "qlearn:population=10,sample=3",
        "mapelites:x=a:0:16:8,y=score:-30:1:8",
        "ls",
    ] {
        let mut found = 0;
        for seed in 0..3 {
            let study = run(settings(strategy, 400, seed), Box::new(MemoryStore::new()));
            assert_eq!(study.counted(), 400, "{strategy}");
            found += usize::from(study.best().unwrap().value == Some(1.0));
        }
        assert!(found >= 2, "{strategy}: optimum found in {found}/3 runs");
    }
}

#[test]
fn failures_nans_and_panics_are_failed_trials_and_the_search_goes_on() {
    let study = run(
        settings("rea:population=10,sample=3", 500, 1),
        Box::new(MemoryStore::new()),
    );
    let failed: Vec<_> = study
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Failed && t.duplicate_of.is_none())
        .collect();
    let reasons: Vec<&str> = failed.iter().filter_map(|t| t.error.as_deref()).collect();
    assert!(reasons.contains(&"bad op crashed"), "{reasons:?}");
    assert!(reasons.contains(&"metric 'score' is NaN"), "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("the evaluator panicked: boom at a = 13")),
        "{reasons:?}"
    );
    assert_eq!(study.counted(), 500);
    assert_eq!(
        study.best().unwrap().value,
        Some(1.0),
        "the optimum is still found"
    );
}

#[test]
fn a_fatal_evaluation_stops_the_study_and_leaves_nothing_half_written() {
    let eval = Arc::new(TestEval {
        calls: AtomicUsize::new(0),
        fatal_a: Some(5),
    });
    let mut study = Study::open(
        settings("grid", 2000, 0),
        eval,
        Box::new(MemoryStore::new()),
    )
    .unwrap();
    let err = study.run(&mut |_| {}).unwrap_err();
    assert!(
        matches!(&err, Error::Evaluator(hnas_eval::EvalError::Fatal(m)) if m == "the table is gone"),
        "{err}"
    );
    let store = study.into_store();
    let trials = store.trials().unwrap();
    assert!(!trials.is_empty());
    assert!(
        trials.iter().all(|t| t.state.is_finished()),
        "no running trial is left behind"
    );
}

#[test]
fn duplicates_follow_the_policy() {
    let tiny = "net = net(op = op)\nop = good | fine";
    let go = |dedup: Dedup| {
        let eval = TestEval::new();
        let s = Settings {
            space: format!("{tiny}\n"),
            dedup,
            ..settings("rea:population=2,sample=1", 20, 0)
        };
        let s = Settings {
            space: s
                .space
                .replace("net(op = op)", "net(a = int(7, 7), b = int(3, 3), op = op)"),
            ..s
        };
        let mut study = Study::open(s, eval.clone(), Box::new(MemoryStore::new())).unwrap();
        let summary = study.run(&mut |_| {}).unwrap();
        (summary, eval.calls.load(Ordering::SeqCst))
    };
    let (reuse, calls) = go(Dedup::Reuse);
    assert_eq!(
        (reuse.counted, calls),
        (20, 2),
        "reuse: 20 trials, 2 evaluations"
    );
    assert_eq!(reuse.duplicates, 18);
    let (off, calls) = go(Dedup::Off);
    assert_eq!((off.counted, calls, off.duplicates), (20, 20, 0));
    let (skip, calls) = go(Dedup::Skip);
    assert_eq!((skip.counted, calls), (2, 2));
    assert!(skip
        .stopped_early
        .unwrap()
        .contains("known networks in a row"));
}

#[test]
fn reopening_with_other_settings_is_refused() {
    let study = run(settings("random", 10, 0), Box::new(MemoryStore::new()));
    let store = study.into_store();
    let err = Study::open(settings("random", 10, 1), TestEval::new(), store)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("seed: '0' (stored) → '1' (given)"), "{err}");
}

#[test]
fn a_larger_budget_extends_a_finished_study() {
    let study = run(settings("random", 10, 3), Box::new(MemoryStore::new()));
    let store = study.into_store();
    let study = run(settings("random", 25, 3), store);
    assert_eq!(study.counted(), 25);
    assert_eq!(
        digest(&study),
        digest(&run(
            settings("random", 25, 3),
            Box::new(MemoryStore::new())
        ))
    );
}

#[test]
fn unknown_metrics_are_refused_before_anything_runs() {
    for (asked, hint) in [
        ("accuracy", ""),
        ("scor", "did you mean 'score'? "),
        ("test_score", "did you mean 'score'? "),
        (
            "cifar10_score",
            "did you mean 'score'? (evaluator 'test' reports its own; 'cifar10' needs one that reads it) ",
        ),
    ] {
        let s = Settings {
            objectives: vec![format!("max:{asked}")],
            ..settings("random", 10, 0)
        };
        let err = Study::open(s, TestEval::new(), Box::new(MemoryStore::new()))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            format!(
                "unknown metric '{asked}' for evaluator 'test'; {hint}expected one of: score, a"
            )
        );
    }
}

#[test]
fn the_leaderboard_lists_distinct_networks_best_first() {
    let study = run(
        settings("rea:population=10,sample=3", 200, 2),
        Box::new(MemoryStore::new()),
    );
    let board = study.leaderboard(5);
    assert_eq!(board.len(), 5);
    assert!(board.windows(2).all(|w| w[0].value >= w[1].value));
    let hashes: std::collections::HashSet<_> = board.iter().map(|t| &t.canonical_hash).collect();
    assert_eq!(hashes.len(), 5);
}

#[test]
fn the_nb201_accuracy_latency_front_has_37_points() {
    // Issue 5's reference: maximize CIFAR-10 test_200, minimize Raspberry Pi 5 ONNX latency.
    let evaluator = match hnas_eval::from_name("nb201:cifar10") {
        Ok(e) => e,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!("CI=true: {e}"),
        Err(e) => {
            eprintln!("notice: skipping: {e}");
            return;
        }
    };
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/spaces/nb201.hnas");
    let space = Space::from_file(&path).unwrap();
    let points: Vec<Vec<f64>> = space
        .enumerate()
        .unwrap()
        .map(|c| {
            let m = evaluator.evaluate(&space, &c, None).unwrap();
            vec![m["test_200"], -m["latency_ms_pi5_onnx"]]
        })
        .collect();
    let ranks = hnas_search::pareto::non_dominated_ranks(&points);
    let mut front: Vec<&Vec<f64>> = points
        .iter()
        .zip(&ranks)
        .filter(|(_, r)| **r == 0)
        .map(|(p, _)| p)
        .collect();
    front.sort_by(|a, b| a[0].total_cmp(&b[0]));
    front.dedup();
    assert_eq!(front.len(), 37);
    let hv = hnas_search::pareto::hypervolume(
        &front.iter().map(|p| p.to_vec()).collect::<Vec<_>>(),
        &[85.0, -10.0],
    );
    eprintln!("NB201 front: 37 points, hypervolume {hv:.4} (reference 85 %, 10 ms)");
    assert!(hv > 0.0);
}

#[test]
fn several_objectives_and_constraints_give_a_feasible_front() {
    // Maximize score, minimize a, subject to a >= 3: the front trades a for score.
    let s = Settings {
        objectives: vec!["max:score".into(), "min:a".into()],
        constraints: vec!["a >= 3".into()],
        ..settings("nsga2:population=12", 150, 1)
    };
    let study = run(s, Box::new(MemoryStore::new()));
    let goals = study.goals();
    let front = goals.pareto_front(study.trials());
    assert!(!front.is_empty());
    let complete: Vec<_> = study
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    // Infeasible trials are recorded with their metrics, never on the front or leaderboard.
    let infeasible: Vec<_> = complete.iter().filter(|t| t.metrics["a"] < 3.0).collect();
    assert!(
        !infeasible.is_empty(),
        "some proposals break the constraint"
    );
    assert!(infeasible.iter().all(|t| goals.violation(t) > 0.0));
    assert!(front.iter().all(|t| t.metrics["a"] >= 3.0));
    assert!(study.leaderboard(50).iter().all(|t| t.metrics["a"] >= 3.0));
    // The front: mutually non-dominated, and it dominates (or equals) every feasible trial.
    let v = |t: &hnas_store::TrialRecord| goals.vector(t).unwrap();
    for a in &front {
        for b in &front {
            assert!(!hnas_search::pareto::dominates(&v(a), &v(b)));
        }
    }
    for t in complete.iter().filter(|t| goals.violation(t) == 0.0) {
        let vt = v(t);
        assert!(
            front
                .iter()
                .any(|f| hnas_search::pareto::dominates(&v(f), &vt) || v(f) == vt),
            "trial {} is neither on nor below the front",
            t.number
        );
    }
    // The best feasible trade-off at a = 3..: score -(|a-7|+|b-3|)+1 peaks at a = 7, so the
    // front holds a = 3 (the smallest feasible a) with its best score.
    assert!(front.iter().any(|t| t.metrics["a"] == 3.0));
}

#[test]
fn single_objective_strategies_refuse_several_objectives() {
    let s = Settings {
        objectives: vec!["max:score".into(), "min:a".into()],
        ..settings("rea", 10, 0)
    };
    let err = Study::open(s, TestEval::new(), Box::new(MemoryStore::new()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("'rea' optimizes one objective"), "{err}");
}

#[test]
fn a_constraint_hides_infeasible_trials_from_single_objective_strategies() {
    // The unconstrained optimum has a = 7; with a <= 4 the best is a = 4, b = 3, good.
    let s = Settings {
        constraints: vec!["a <= 4".into()],
        ..settings("rea:population=10,sample=3", 300, 3)
    };
    let study = run(s, Box::new(MemoryStore::new()));
    let best = study.best().unwrap();
    assert_eq!(best.metrics["a"], 4.0);
    assert_eq!(best.value, Some(-2.0));
    assert!(study
        .trials()
        .iter()
        .any(|t| t.state == TrialState::Complete && t.metrics["a"] > 4.0 && t.value > Some(-2.0)));
}

#[test]
fn a_cost_budget_stops_the_study() {
    let s = Settings {
        max_cost: Some(25.0),
        ..settings("asha:rungs=1/3", 1_000, 0)
    };
    let study = run(s, Box::new(MemoryStore::new()));
    // The test evaluator charges 1 per evaluation; reused duplicates cost nothing.
    let evaluated = study
        .trials()
        .iter()
        .filter(|t| t.duplicate_of.is_none())
        .count();
    assert_eq!(evaluated, 25);
    assert_eq!(study.spent(), 25.0);
    // ASHA evaluated some candidates twice, at fidelities 1 and 3; the same network at two
    // fidelities is not a duplicate.
    let at3 = study
        .trials()
        .iter()
        .filter(|t| t.fidelity == Some(3.0) && t.duplicate_of.is_none())
        .count();
    assert!(at3 >= 2, "{at3} promotions");
    assert_eq!(study.best().unwrap().fidelity, Some(3.0));
}

#[test]
fn the_harness_measures_hypervolume_against_the_enumerated_front() {
    // Grid evaluates every candidate of the 1,024-cell space: its front is the true one, so
    // its final hypervolume fraction is exactly 1; every curve is non-decreasing and <= 1.
    let cfg = hnas_study::BenchConfig {
        space_file: "test.hnas".into(),
        space: SPACE.into(),
        strategies: vec!["grid".into(), "random".into(), "nsga2:population=10".into()],
        objectives: vec!["max:score".into(), "min:a".into()],
        constraints: vec![],
        regret_metric: String::new(),
        reference: vec![-30.0, 16.0],
        seeds: 2,
        first_seed: 0,
        budget: 1024,
        max_cost: None,
        fidelity: None,
        prior: None,
        dedup: Dedup::Reuse,
        jobs: 1,
    };
    let result = hnas_study::run_benchmark(&cfg, TestEval::new()).unwrap();
    assert!(result.optimum.unwrap() > 0.0);
    assert!(result.front_size.unwrap() >= 2);
    for c in &result.curves {
        for run in &c.regret {
            assert!(
                run.windows(2).all(|w| w[1] >= w[0] - 1e-12),
                "{}",
                c.strategy
            );
            assert!(run.iter().all(|v| *v <= 1.0 + 1e-9), "{}", c.strategy);
        }
    }
    let grid = &result.curves[0];
    assert!((grid.at(1024).0 - 1.0).abs() < 1e-12, "{}", grid.at(1024).0);
    assert!(grid.at(10).0 < 1.0);
}

#[test]
fn settings_written_before_several_objectives_still_open() {
    let old = r#"{"space_file":"s.hnas","space":"net = a","strategy":"random","evaluator":"hash","objective":"max:score","report":[],"seed":3,"budget":10,"fidelity":null,"dedup":"reuse"}"#;
    let s: Settings = serde_json::from_str(old).unwrap();
    assert_eq!(s.objectives, vec!["max:score".to_string()]);
    assert!(s.constraints.is_empty() && s.max_cost.is_none());
    let again: Settings = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(again, s);
}

#[test]
fn asha_resumes_from_a_kill_during_a_promotion() {
    let strategy = "asha:rungs=1/3/9,sampler=rea";
    let straight = run(settings(strategy, 80, 5), Box::new(MemoryStore::new()));
    // The first promotion to the top rung after trial 10: cut the study there, as if the
    // process died while that 9-fidelity evaluation ran.
    let cut = straight
        .trials()
        .iter()
        .find(|t| t.number > 10 && t.fidelity == Some(9.0) && t.duplicate_of.is_none())
        .expect("a promotion to the top rung")
        .number;
    let first = run(settings(strategy, cut + 1, 5), Box::new(MemoryStore::new()));
    let mut store = first.into_store();
    let mut t = store.trials().unwrap().pop().unwrap();
    assert_eq!(t.fidelity, Some(9.0));
    t.state = TrialState::Running;
    t.metrics.clear();
    t.value = None;
    t.tell_seq = None;
    t.finished_at = None;
    store.update_trial(&t).unwrap();
    let resumed = run(settings(strategy, 80, 5), store);
    assert_eq!(digest(&resumed), digest(&straight));
    let fid = |s: &Study| s.trials().iter().map(|t| t.fidelity).collect::<Vec<_>>();
    assert_eq!(fid(&resumed), fid(&straight));
}

#[test]
fn a_network_being_evaluated_is_not_proposed_again_and_this_replays() {
    // Two networks only; with the first pending, the next proposal is the other one.
    let s = Settings {
        space: "net = net(a = int(7, 7), b = int(3, 3), op = op)\nop = good | fine\n".into(),
        ..settings("random", 10, 0)
    };
    let mut study = Study::open(s.clone(), TestEval::new(), Box::new(MemoryStore::new())).unwrap();
    let mut store = MemoryStore::new();
    let mut lines = Vec::new();
    for _ in 0..2 {
        let Some(hnas_study::Proposal::New(i, _)) = study.propose().unwrap() else {
            panic!("expected a new trial")
        };
        lines.push(study.trials()[i].candidate.clone());
    }
    assert_ne!(lines[0], lines[1], "the pending network was proposed again");
    // The same two trials, stored as parallel workers would leave them, replay exactly.
    if let Some(rec) = study.into_store().study().unwrap() {
        store.put_study(&rec).unwrap();
    }
    let mut first = Study::open(s.clone(), TestEval::new(), Box::new(MemoryStore::new())).unwrap();
    for _ in 0..2 {
        if let Some(hnas_study::Proposal::New(i, _)) = first.propose().unwrap() {
            store.insert_trial(&first.trials()[i]).unwrap();
        }
    }
    let reopened = Study::open(s, TestEval::new(), Box::new(store)).unwrap();
    let replayed: Vec<&str> = reopened
        .trials()
        .iter()
        .map(|t| t.candidate.as_str())
        .collect();
    assert_eq!(replayed, vec![lines[0].as_str(), lines[1].as_str()]);
}

#[test]
fn an_evaluation_stopped_early_is_a_pruned_trial_with_its_reports() {
    struct Stopping;
    impl Evaluator for Stopping {
        fn name(&self) -> &str {
            "test"
        }
        fn metrics(&self) -> Vec<String> {
            vec!["score".into(), "a".into()]
        }
        fn evaluate(
            &self,
            space: &Space,
            c: &Candidate,
            _f: Option<f64>,
        ) -> Result<Metrics, EvalError> {
            let a = space.to_json(c)["root"]["args"]["a"].as_f64().unwrap();
            if a < 8.0 {
                return Err(EvalError::Stopped {
                    reason: "poor reports".into(),
                    metrics: Metrics::from([("score".into(), -a)]),
                });
            }
            Ok(Metrics::from([("score".into(), a), ("a".into(), a)]))
        }
    }
    let study = {
        let mut s = Study::open(
            settings("random", 60, 2),
            Arc::new(Stopping),
            Box::new(MemoryStore::new()),
        )
        .unwrap();
        s.run(&mut |_| {}).unwrap();
        s
    };
    let pruned: Vec<_> = study
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .collect();
    assert!(!pruned.is_empty() && pruned.len() < 60);
    for t in &pruned {
        assert_eq!(t.error.as_deref(), Some("poor reports"));
        assert_eq!(t.value, Some(-t.metrics["score"].abs()));
    }
    assert!(study
        .leaderboard(100)
        .iter()
        .all(|t| t.state == TrialState::Complete));
    assert!(study.best().unwrap().value.unwrap() >= 8.0);
}

/// Sleeps `millis` per evaluation and notes the most evaluations it ever saw at once.
struct Overlap {
    inner: Arc<TestEval>,
    now: AtomicUsize,
    most: AtomicUsize,
    millis: u64,
}

impl Evaluator for Overlap {
    fn name(&self) -> &str {
        "test"
    }
    fn metrics(&self) -> Vec<String> {
        self.inner.metrics()
    }
    fn evaluate(&self, s: &Space, c: &Candidate, f: Option<f64>) -> Result<Metrics, EvalError> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(self.millis));
        // Counted out even when the evaluation panics.
        struct Out<'a>(&'a AtomicUsize);
        impl Drop for Out<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _out = Out(&self.now);
        self.inner.evaluate(s, c, f)
    }
}

fn overlap(fatal_a: Option<i64>, millis: u64) -> Arc<Overlap> {
    Arc::new(Overlap {
        inner: Arc::new(TestEval {
            calls: AtomicUsize::new(0),
            fatal_a,
        }),
        now: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        millis,
    })
}

#[test]
fn jobs_keep_that_many_trials_running_and_the_store_replays_them() {
    for strategy in [
        "rea:population=8,sample=3",
        "bananas",
        "tpe",
        "sh:rungs=1/3",
    ] {
        let eval = overlap(None, 20);
        let mut study = Study::open(
            settings(strategy, 40, 2),
            eval.clone(),
            Box::new(MemoryStore::new()),
        )
        .unwrap();
        study.set_jobs(4);
        let mut most_in_flight = 0;
        let summary = study
            .run(&mut |ev| {
                if let hnas_study::Event::Started { in_flight, .. } = ev {
                    most_in_flight = most_in_flight.max(in_flight);
                }
            })
            .unwrap();
        assert_eq!(summary.counted, 40, "{strategy}");
        assert_eq!(eval.most.load(Ordering::SeqCst), 4, "{strategy}");
        assert_eq!(most_in_flight, 4, "{strategy}");
        // Failures, NaNs and panics on other threads are failed trials, as on one.
        assert!(study.trials().iter().all(|t| t.state.is_finished()));
        let before = digest(&study);
        // Reopened, the strategy replays the stored asks and tells in their order (a
        // diverging replay is an error) and goes on.
        let store = study.into_store();
        let mut again = Study::open(settings(strategy, 50, 2), eval.clone(), store).unwrap();
        assert_eq!(digest(&again), before);
        again.set_jobs(2);
        again.run(&mut |_| {}).unwrap();
        assert_eq!(again.counted(), 50, "{strategy}");
    }
}

#[test]
fn devices_cap_the_jobs_and_each_trial_holds_one() {
    let eval = overlap(None, 10);
    let mut study = Study::open(
        settings("random", 12, 0),
        eval.clone(),
        Box::new(MemoryStore::new()),
    )
    .unwrap();
    study.set_jobs(8);
    study.set_devices(vec!["cuda:0".into(), "cuda:1".into()]);
    assert_eq!(study.jobs(), 2);
    study.run(&mut |_| {}).unwrap();
    assert_eq!(eval.most.load(Ordering::SeqCst), 2);
}

#[test]
fn a_fatal_error_among_parallel_trials_records_the_others_and_stops() {
    let eval = overlap(Some(5), 15);
    let mut study = Study::open(
        settings("grid", 2000, 0),
        eval.clone(),
        Box::new(MemoryStore::new()),
    )
    .unwrap();
    study.set_jobs(3);
    let err = study.run(&mut |_| {}).unwrap_err();
    assert!(
        matches!(&err, Error::Evaluator(hnas_eval::EvalError::Fatal(m)) if m == "the table is gone"),
        "{err}"
    );
    // No new trial starts after the error; the running ones finish and are recorded.
    assert_eq!(eval.now.load(Ordering::SeqCst), 0);
    let n = study.trials().len();
    assert!(n < 2000);
    let store = study.into_store();
    let trials = store.trials().unwrap();
    let unfinished = trials.iter().filter(|t| !t.state.is_finished()).count();
    assert!(unfinished <= 1, "{unfinished} trials left running");
    // Resumable: it replays, and the failing trial (if kept) is what stops it again.
    let err = Study::open(settings("grid", 2000, 0), eval, store)
        .unwrap()
        .run(&mut |_| {})
        .unwrap_err();
    assert!(matches!(&err, Error::Evaluator(_)));
}
