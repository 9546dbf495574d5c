//! The study driver.

use crate::{Constraint, Dedup, Error, Objective, Settings};
use hnas_eval::{EvalError, Evaluator, Metrics};
use hnas_search::{build_in, trial_rng, Ask, Context, Outcome, Strategy, StrategySpec};
use hnas_space::{Candidate, Space};
use hnas_store::{now, Store, StudyRecord, TrialRecord, TrialState};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// How many duplicates in a row end a study under `Dedup::Skip`, or one limited by cost
/// alone (the strategy keeps proposing known networks: the space, or its reachable part,
/// is used up).
const MAX_SKIPPED_IN_A_ROW: u64 = 10_000;

/// How many times a strategy is asked again when it proposes a network that an unfinished
/// trial is evaluating (the pending trials of parallel workers).
const PENDING_RETRIES: usize = 10;

/// What the driver reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// A study with stored trials was reopened.
    Resumed { trials: usize, unfinished: usize },
    /// A trial started evaluating; `in_flight` trials (this one included) are running.
    Started {
        trial: &'a TrialRecord,
        in_flight: usize,
    },
    /// A trial finished (or was answered from a duplicate); `in_flight` trials are still
    /// running.
    Trial {
        trial: &'a TrialRecord,
        best: Option<&'a TrialRecord>,
        counted: u64,
        budget: u64,
        in_flight: usize,
    },
}

/// A trial [`Study::propose`] added: its index and candidate.
#[derive(Debug)]
pub enum Proposal {
    /// A new trial, running: evaluate it.
    New(usize, Candidate),
    /// A duplicate, finished from an earlier result and told.
    Reused(usize, Candidate),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub trials: usize,
    pub counted: u64,
    pub complete: usize,
    pub failed: usize,
    pub duplicates: usize,
    /// Why the run stopped before its budget, if it did.
    pub stopped_early: Option<String>,
}

/// A study: settings, space, strategy, evaluator and store.
pub struct Study {
    settings: Settings,
    space: Arc<Space>,
    goals: Arc<Goals>,
    evaluator: Arc<dyn Evaluator>,
    strategy: Box<dyn Strategy>,
    store: Box<dyn Store>,
    trials: Vec<TrialRecord>,
    /// (Canonical hash as a number, fidelity) -> first finished trial with them.
    seen: HashMap<(u64, Option<u64>), usize>,
    seq: u64,
    /// Index of the best complete trial.
    best: Option<usize>,
    /// Time spent inside the evaluator, so that the engine's own overhead can be measured.
    eval_seconds: f64,
    /// Trials that count toward the budget (kept, not recounted: the loop checks it per trial).
    counted: u64,
    /// Summed cost of the trials.
    spent: f64,
    /// Trials asked and not yet told (pending for the strategy), by index: kept, not
    /// searched for, because every ask needs them.
    unfinished: std::collections::BTreeSet<usize>,
    /// Trials [`Study::run`] keeps evaluating at once.
    jobs: usize,
    /// Devices handed out to running trials, one trial per device (empty: none named).
    devices: Vec<String>,
    /// Set from anywhere to make [`Study::run`] start no new trial.
    stop: Arc<std::sync::atomic::AtomicBool>,
}

/// A trial [`Study::ask`] handed out.
#[derive(Debug, Clone)]
pub struct Asked {
    /// Its index in [`Study::trials`] (its number).
    pub index: usize,
    pub candidate: Candidate,
    /// A network evaluated before: the trial is finished already, from that result (under
    /// `Dedup::Reuse` or `Skip`); telling it is an error.
    pub reused: bool,
}

/// What evaluating one trial needs, shared with the thread that runs it.
#[derive(Clone)]
struct Evaluation {
    evaluator: Arc<dyn Evaluator>,
    space: Arc<Space>,
    goals: Arc<Goals>,
    seed: u64,
    /// Each trial's share of the cores when several run at once.
    threads: Option<usize>,
}

impl Evaluation {
    /// The finished record of trial `t` (state, metrics, value, error, cost; no tell
    /// sequence) and the seconds spent in the evaluator. `Err` only for a fatal error.
    fn run(
        &self,
        t: TrialRecord,
        c: &Candidate,
        device: Option<String>,
    ) -> (Result<TrialRecord, EvalError>, f64) {
        let info = hnas_eval::TrialInfo {
            trial: t.number,
            seed: self.seed,
            device,
            threads: self.threads,
        };
        let started = std::time::Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.evaluator
                .evaluate_trial(&self.space, c, t.fidelity, &info)
        }))
        .unwrap_or_else(|p| {
            Err(EvalError::Failed(format!(
                "the evaluator panicked: {}",
                panic_message(&p)
            )))
        });
        let seconds = started.elapsed().as_secs_f64();
        let cost = self.evaluator.cost(t.fidelity);
        (finish(&self.goals, t, cost, result), seconds)
    }
}

/// Trial `t` finished with `result`: its state, metrics, value, error and cost (no tell
/// sequence). `Err` only for a fatal error.
fn finish(
    goals: &Goals,
    mut t: TrialRecord,
    cost: f64,
    result: Result<Metrics, EvalError>,
) -> Result<TrialRecord, EvalError> {
    let result = result.and_then(|m| check_metrics(goals, m));
    t.cost = cost;
    match result {
        Ok(m) => {
            t.state = TrialState::Complete;
            t.value = goals.primary().value(&m);
            t.metrics = m;
            // A trial run again after an interrupt keeps no stale reason.
            t.error = None;
        }
        Err(EvalError::Failed(reason)) => {
            t.state = TrialState::Failed;
            t.error = Some(reason);
        }
        Err(EvalError::Stopped { reason, metrics }) => {
            t.state = TrialState::Pruned;
            t.metrics = metrics.into_iter().filter(|(_, v)| v.is_finite()).collect();
            t.value = goals.primary().value(&t.metrics);
            t.error = Some(reason);
        }
        Err(fatal @ EvalError::Fatal(_)) => return Err(fatal),
    }
    t.finished_at = Some(now());
    Ok(t)
}

/// A finished evaluation coming back from its thread: trial index, its candidate, device
/// slot, outcome, seconds in the evaluator.
type Finished = (
    usize,
    Candidate,
    Option<usize>,
    Result<TrialRecord, EvalError>,
    f64,
);

fn check_metrics(goals: &Goals, m: Metrics) -> Result<Metrics, EvalError> {
    if let Some((k, v)) = m.iter().find(|(_, v)| !v.is_finite()) {
        return Err(EvalError::Failed(format!("metric '{k}' is {v}")));
    }
    for o in &goals.objectives {
        if let Some(missing) = o.metrics().into_iter().find(|k| !m.contains_key(*k)) {
            return Err(EvalError::Failed(format!(
                "the evaluator returned no '{missing}'"
            )));
        }
    }
    Ok(m)
}

/// A study's objectives and constraints, parsed.
#[derive(Debug, Clone)]
pub struct Goals {
    pub objectives: Vec<Objective>,
    pub constraints: Vec<Constraint>,
}

impl Goals {
    pub fn parse(settings: &Settings) -> Result<Goals, Error> {
        if settings.objectives.is_empty() {
            return Err(Error::Settings("the study names no objective".into()));
        }
        Ok(Goals {
            objectives: settings
                .objectives
                .iter()
                .map(|o| Objective::parse(o))
                .collect::<Result<_, _>>()?,
            constraints: settings
                .constraints
                .iter()
                .map(|c| Constraint::parse(c))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The first objective: the one leaderboards sort by.
    pub fn primary(&self) -> &Objective {
        &self.objectives[0]
    }

    /// How far a complete trial breaks the constraints (0: feasible).
    pub fn violation(&self, t: &TrialRecord) -> f64 {
        self.violation_of(&t.metrics)
    }

    /// How far metrics break the constraints (0: feasible).
    pub fn violation_of(&self, m: &Metrics) -> f64 {
        self.constraints.iter().map(|c| c.violation(m)).sum()
    }

    /// Every objective of a complete trial, oriented so that higher is better.
    pub fn vector(&self, t: &TrialRecord) -> Option<Vec<f64>> {
        if t.state != TrialState::Complete {
            return None;
        }
        self.vector_of(&t.metrics)
    }

    /// Every objective's value for metrics, oriented so that higher is better.
    pub fn vector_of(&self, m: &Metrics) -> Option<Vec<f64>> {
        self.objectives
            .iter()
            .map(|o| o.value(m).filter(|v| v.is_finite()).map(|v| o.score(v)))
            .collect()
    }

    /// The primary objective's score (higher is better) of a complete, feasible trial.
    pub fn score(&self, t: &TrialRecord) -> Option<f64> {
        (t.state == TrialState::Complete && self.violation(t) == 0.0)
            .then_some(t.value)
            .flatten()
            .filter(|v| v.is_finite())
            .map(|v| self.primary().score(v))
    }

    /// The non-dominated trials among complete, feasible, first-of-their-network ones at
    /// the highest fidelity present, in trial order.
    pub fn pareto_front<'a>(&self, trials: &'a [TrialRecord]) -> Vec<&'a TrialRecord> {
        let top = top_fidelity(trials);
        let mut seen = std::collections::HashSet::new();
        let pool: Vec<(&TrialRecord, Vec<f64>)> = trials
            .iter()
            .filter(|t| t.duplicate_of.is_none() && t.fidelity == top && self.violation(t) == 0.0)
            .filter_map(|t| self.vector(t).map(|v| (t, v)))
            .filter(|(t, _)| seen.insert(t.canonical_hash.clone()))
            .collect();
        let points: Vec<Vec<f64>> = pool.iter().map(|p| p.1.clone()).collect();
        let ranks = hnas_search::pareto::non_dominated_ranks(&points);
        pool.into_iter()
            .zip(ranks)
            .filter(|(_, r)| *r == 0)
            .map(|(p, _)| p.0)
            .collect()
    }
}

/// What a user most likely meant by the unknown metric `m`, as a sentence ending in a space:
/// an offered metric that `m` ends with after an underscore (a table's column name such as
/// `cifar10_test_200`, where the evaluator already names the dataset), else a near spelling.
/// When the part before the underscore is not a word of the evaluator's name, it may name
/// another dataset (`cifar100_test_200` asked of `nb201:cifar10`), and the hint says so
/// rather than quietly offering this evaluator's own column.
fn metric_hint(m: &str, offered: &[String], evaluator: &str) -> String {
    let suffix = offered
        .iter()
        .filter_map(|o| Some((o, m.strip_suffix(o.as_str())?.strip_suffix('_')?)))
        .max_by_key(|(o, _)| o.len());
    if let Some((o, prefix)) = suffix {
        let own = evaluator
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|w| w == prefix);
        let caveat = if own {
            String::new()
        } else {
            format!(
                "(evaluator '{evaluator}' reports its own; '{prefix}' needs one that reads it) "
            )
        };
        return format!("did you mean '{o}'? {caveat}");
    }
    hnas_space::did_you_mean(m, offered.iter().map(String::as_str))
        .map_or(String::new(), |h| format!("did you mean '{h}'? "))
}

/// The highest fidelity among complete trials (`None`, the default, ranks lowest).
fn top_fidelity(trials: &[TrialRecord]) -> Option<f64> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .map(|t| t.fidelity)
        .max_by(|a, b| fidelity_rank(*a).total_cmp(&fidelity_rank(*b)))
        .flatten()
}

fn fidelity_rank(f: Option<f64>) -> f64 {
    f.unwrap_or(f64::NEG_INFINITY)
}

/// Makes a strategy for a study's space (a user's own [`Strategy`]).
pub type MakeStrategy = Box<dyn FnOnce(Arc<Space>) -> Box<dyn Strategy>>;

impl Study {
    /// A builder: space, strategy (a spec or your own), evaluator, objectives, store.
    pub fn builder() -> crate::StudyBuilder {
        crate::StudyBuilder::default()
    }

    /// Opens (or creates) the study in `store`, replaying its stored trials; the strategy
    /// is built from `settings.strategy`.
    pub fn open(
        settings: Settings,
        evaluator: Arc<dyn Evaluator>,
        store: Box<dyn Store>,
    ) -> Result<Study, Error> {
        Self::open_inner(settings, evaluator, store, None)
    }

    /// [`Study::open`] with a strategy of the caller's own, made for the study's space;
    /// `settings.strategy` is its name as stored (a resume must give the same). A resume
    /// replays the stored asks into it, so it must propose the same candidates for the
    /// same events and random streams, as the built-in strategies do.
    pub fn open_with_strategy(
        settings: Settings,
        strategy: MakeStrategy,
        evaluator: Arc<dyn Evaluator>,
        store: Box<dyn Store>,
    ) -> Result<Study, Error> {
        Self::open_inner(settings, evaluator, store, Some(strategy))
    }

    fn open_inner(
        settings: Settings,
        evaluator: Arc<dyn Evaluator>,
        mut store: Box<dyn Store>,
        custom: Option<MakeStrategy>,
    ) -> Result<Study, Error> {
        let space = Space::parse(&settings.space_file, &settings.space)?;
        let space = Arc::new(space);
        let goals = Goals::parse(&settings)?;
        let offered = evaluator.metrics();
        let needed = goals
            .objectives
            .iter()
            .flat_map(|o| o.metrics())
            .chain(goals.constraints.iter().map(|c| c.metric.as_str()))
            .chain(settings.report.iter().map(String::as_str));
        // An evaluator that cannot list its metrics in advance is checked per trial.
        for m in needed.filter(|_| !offered.is_empty()) {
            if !offered.iter().any(|o| o == m) {
                return Err(Error::Settings(format!(
                    "unknown metric '{m}' for evaluator '{}'; {}expected one of: {}",
                    evaluator.name(),
                    metric_hint(m, &offered, evaluator.name()),
                    offered.join(", ")
                )));
            }
        }
        evaluator.check_space(&space)?;
        let strategy = match custom {
            Some(make) => make(space.clone()),
            None => {
                if let Some(class) = settings.strategy.strip_prefix("python:") {
                    return Err(Error::Settings(format!(
                        "this study is searched by the Python strategy {class}: resume it from Python, hnas.load_study(PATH, strategy={class}())"
                    )));
                }
                let spec = StrategySpec::parse(&settings.strategy)?;
                let prior = match &settings.prior {
                    Some(p) => Some(hnas_search::PriorRef(crate::prior_from_spec(p)?)),
                    None => None,
                };
                let ctx = Context {
                    fidelities: evaluator.fidelities(),
                    objectives: goals.objectives.len(),
                    prior,
                };
                build_in(&spec, space.clone(), &ctx)?
            }
        };

        match store.study()? {
            Some(rec) => {
                let stored: Settings = serde_json::from_str(&rec.settings).map_err(|e| {
                    Error::Settings(format!("the study's stored settings are unreadable: {e}"))
                })?;
                let diff = settings.differences(&stored);
                if !diff.is_empty() {
                    return Err(Error::Settings(format!(
                        "the study already exists with other settings ({}); use another study file, or the stored settings",
                        diff.join("; ")
                    )));
                }
                if stored.budget != settings.budget
                    || stored.max_cost != settings.max_cost
                    || stored.report != settings.report
                {
                    store.put_study(&StudyRecord {
                        settings: to_json(&settings),
                        ..rec
                    })?;
                }
            }
            None => store.put_study(&StudyRecord {
                name: settings.space_file.clone(),
                settings: to_json(&settings),
                created_at: now(),
            })?,
        }
        let mut study = Study {
            settings,
            space,
            goals: Arc::new(goals),
            evaluator,
            strategy,
            store,
            trials: Vec::new(),
            seen: HashMap::new(),
            seq: 0,
            best: None,
            eval_seconds: 0.0,
            counted: 0,
            spent: 0.0,
            unfinished: Default::default(),
            jobs: 1,
            devices: Vec::new(),
            stop: Default::default(),
        };
        study.replay()?;
        Ok(study)
    }

    /// Rebuilds the strategy's state from the stored trials.
    fn replay(&mut self) -> Result<(), Error> {
        let trials = self.store.trials()?;
        enum Ev {
            Ask(usize),
            Tell(usize),
        }
        let mut events: Vec<(u64, Ev)> = Vec::new();
        for (i, t) in trials.iter().enumerate() {
            if t.number != i as u64 {
                return Err(Error::Settings(format!(
                    "the study's trials are not numbered 0..{}: trial {} is missing",
                    trials.len(),
                    i
                )));
            }
            events.push((t.ask_seq, Ev::Ask(i)));
            if let Some(s) = t.tell_seq {
                events.push((s, Ev::Tell(i)));
            }
        }
        events.sort_by_key(|e| e.0);
        let mut pending = 0usize;
        let mut pending_keys: HashMap<(u64, Option<u64>), usize> = HashMap::new();
        for (_, ev) in &events {
            match *ev {
                Ev::Ask(i) => {
                    let t = &trials[i];
                    if self.strategy.replays_asks() {
                        self.ask_again(t, pending, &pending_keys)?;
                    }
                    pending += 1;
                    *pending_keys
                        .entry(seen_key(&t.canonical_hash, t.fidelity))
                        .or_default() += 1;
                }
                Ev::Tell(i) => {
                    let t = &trials[i];
                    let c = self.candidate_of(t)?;
                    let objectives = self.goals.vector(t).unwrap_or_default();
                    self.strategy.tell(&Outcome {
                        trial: t.number,
                        candidate: &c,
                        score: self.goals.score(t),
                        metrics: &t.metrics,
                        objectives: &objectives,
                        violation: self.goals.violation(t),
                        fidelity: t.fidelity,
                    });
                    pending -= 1;
                    let k = seen_key(&t.canonical_hash, t.fidelity);
                    if let Some(n) = pending_keys.get_mut(&k) {
                        *n -= 1;
                        if *n == 0 {
                            pending_keys.remove(&k);
                        }
                    }
                }
            }
        }
        self.seq = events.last().map_or(0, |e| e.0 + 1);
        self.counted = trials.iter().filter(|t| t.counted).count() as u64;
        self.spent = trials.iter().map(|t| t.cost).sum();
        self.trials = trials;
        for i in 0..self.trials.len() {
            self.index(i);
        }
        self.unfinished = (0..self.trials.len())
            .filter(|&i| self.trials[i].tell_seq.is_none())
            .collect();
        Ok(())
    }

    fn candidate_of(&self, t: &TrialRecord) -> Result<Candidate, Error> {
        self.space.parse_candidate(&t.candidate).map_err(|d| {
            Error::Settings(format!(
                "trial {} holds a candidate outside the space: {d}",
                t.number
            ))
        })
    }

    /// Adds a finished trial to the duplicate index and the incumbent.
    fn index(&mut self, i: usize) {
        let t = &self.trials[i];
        if !t.state.is_finished() {
            return;
        }
        self.seen
            .entry(seen_key(&t.canonical_hash, t.fidelity))
            .or_insert(i);
        if let Some(v) = self.goals.score(t) {
            let key = (fidelity_rank(t.fidelity), v);
            if self.best.is_none_or(|b| {
                let bt = &self.trials[b];
                let bkey = (
                    fidelity_rank(bt.fidelity),
                    self.goals.score(bt).unwrap_or(f64::NEG_INFINITY),
                );
                key > bkey
            }) {
                self.best = Some(i);
            }
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn space(&self) -> &Space {
        &self.space
    }
    /// The space, shared (for what outlives a borrow of the study).
    pub fn shared_space(&self) -> Arc<Space> {
        self.space.clone()
    }
    /// The primary objective.
    pub fn objective(&self) -> &Objective {
        self.goals.primary()
    }
    pub fn goals(&self) -> &Goals {
        &self.goals
    }
    /// Summed cost of the trials, in the evaluator's unit.
    pub fn spent(&self) -> f64 {
        self.spent
    }
    pub fn trials(&self) -> &[TrialRecord] {
        &self.trials
    }
    pub fn evaluator(&self) -> &dyn Evaluator {
        &*self.evaluator
    }

    /// Gives the store back (to reopen the study, as a new process would).
    pub fn into_store(self) -> Box<dyn Store> {
        self.store
    }

    /// Seconds spent inside the evaluator during this process's runs.
    pub fn evaluation_seconds(&self) -> f64 {
        self.eval_seconds
    }

    /// The best complete, feasible trial so far: highest fidelity first, then the primary
    /// objective.
    pub fn best(&self) -> Option<&TrialRecord> {
        self.best.map(|i| &self.trials[i])
    }

    /// Trials that count toward the budget.
    pub fn counted(&self) -> u64 {
        self.counted
    }

    /// Complete, feasible trials, best first (highest fidelity, then the primary objective),
    /// one per canonical network.
    pub fn leaderboard(&self, k: usize) -> Vec<&TrialRecord> {
        let mut v: Vec<&TrialRecord> = self
            .trials
            .iter()
            .filter(|t| t.duplicate_of.is_none() && self.goals.score(t).is_some())
            .collect();
        v.sort_by(|a, b| {
            let key = |t: &TrialRecord| {
                (
                    fidelity_rank(t.fidelity),
                    self.goals.score(t).unwrap_or(f64::NEG_INFINITY),
                )
            };
            let (x, y) = (key(a), key(b));
            y.0.total_cmp(&x.0)
                .then(y.1.total_cmp(&x.1))
                .then(a.number.cmp(&b.number))
        });
        let mut seen = std::collections::HashSet::new();
        v.retain(|t| seen.insert(t.canonical_hash.clone()));
        v.truncate(k);
        v
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    /// How many trials [`Study::run`] evaluates at once (at least 1; default 1), each on a
    /// thread of its own when more than one. Which trials a run proposes depends on it (the
    /// strategy is asked with the running trials pending), but not what a resume replays:
    /// every ask and tell is stored in the order it happened.
    pub fn set_jobs(&mut self, jobs: usize) {
        self.jobs = jobs.max(1);
    }

    /// Devices to run trials on (`cuda:0`, ..), one trial per device at a time: a trial is
    /// handed a free one ([`hnas_eval::TrialInfo::device`]). With devices, at most as many
    /// trials run at once as there are devices.
    pub fn set_devices(&mut self, devices: Vec<String>) {
        self.devices = devices;
    }

    /// A flag that makes [`Study::run`] start no new trial once set (from another thread, a
    /// signal handler, an observer): the running trials finish and are recorded, and the
    /// run returns with `stopped_early`. `run` clears it when it starts.
    pub fn stop_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.stop.clone()
    }

    /// Changes the budget of counted trials (a larger one extends the study), here and in
    /// the store's settings, so that a later resume sees it.
    pub fn set_budget(&mut self, budget: u64) -> Result<(), Error> {
        self.settings.budget = budget.max(1);
        if let Some(rec) = self.store.study()? {
            self.store.put_study(&StudyRecord {
                settings: to_json(&self.settings),
                ..rec
            })?;
        }
        Ok(())
    }

    /// Asks the strategy for the next trial and records it (running) in the store, for a
    /// loop the caller drives: evaluate [`Asked::candidate`] however it likes, then
    /// [`Study::tell`] the outcome. `None` when the strategy has nothing left. The budget is
    /// not checked: the caller decides when to stop.
    pub fn ask(&mut self) -> Result<Option<Asked>, Error> {
        Ok(match self.propose()? {
            None => None,
            Some(Proposal::Reused(index, candidate)) => {
                self.store.insert_trial(&self.trials[index])?;
                Some(Asked {
                    index,
                    candidate,
                    reused: true,
                })
            }
            Some(Proposal::New(index, candidate)) => {
                self.store.insert_trial(&self.trials[index])?;
                Some(Asked {
                    index,
                    candidate,
                    reused: false,
                })
            }
        })
    }

    /// Records the outcome of a trial [`Study::ask`] handed out (or one left unfinished by
    /// an interrupted run): metrics, or why it failed or was stopped. A fatal error is
    /// refused (the trial stays unfinished; it runs again on resume).
    pub fn tell(&mut self, index: usize, result: Result<Metrics, EvalError>) -> Result<(), Error> {
        let Some(t) = self.trials.get(index) else {
            return Err(Error::Settings(format!(
                "no trial {index}: the study has {} trials",
                self.trials.len()
            )));
        };
        if !self.unfinished.contains(&index) {
            return Err(Error::Settings(format!(
                "trial {index} is finished already ({}); each trial is told once",
                format!("{:?}", t.state).to_lowercase()
            )));
        }
        let cost = self.evaluator.cost(t.fidelity);
        let finished = finish(&self.goals, t.clone(), cost, result).map_err(Error::Evaluator)?;
        let c = self.candidate_of(&finished)?;
        self.record(index, &c, finished, 0, &mut |_| {})
    }

    /// Trials evaluated at once: the jobs, capped by the devices when there are any.
    pub fn jobs(&self) -> usize {
        if self.devices.is_empty() {
            self.jobs
        } else {
            self.jobs.min(self.devices.len())
        }
    }

    /// Runs until the budget is spent, the strategy has nothing left, or an error, with up
    /// to [`Study::jobs`] trials evaluating at once. A fatal evaluator error stops new
    /// trials; the running ones are waited for and recorded before the error is returned.
    pub fn run(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> Result<Summary, Error> {
        let mut resumed: std::collections::VecDeque<usize> =
            self.unfinished.iter().copied().collect();
        if !self.trials.is_empty() {
            on_event(Event::Resumed {
                trials: self.trials.len(),
                unfinished: resumed.len(),
            });
        }
        let jobs = self.jobs();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let job = self.evaluation((jobs > 1).then(|| (cores / jobs).max(1)));
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Finished>();
        let mut free_devices: Vec<usize> = (0..self.devices.len()).rev().collect();
        let mut in_flight = 0usize;
        let mut stopped_early = None;
        let mut fatal: Option<EvalError> = None;
        let mut skipped_in_a_row = 0u64;
        let stop = self.stop.clone();
        stop.store(false, std::sync::atomic::Ordering::SeqCst);
        loop {
            if stop.load(std::sync::atomic::Ordering::SeqCst) && stopped_early.is_none() {
                stopped_early = Some("stopped".to_string());
            }
            // Start trials while there is room: resumed ones first, then new proposals.
            while in_flight < jobs && fatal.is_none() && stopped_early.is_none() {
                let (i, c) = if let Some(i) = resumed.pop_front() {
                    (i, self.candidate_of(&self.trials[i])?)
                } else {
                    if self.counted() >= self.settings.budget
                        || self.settings.max_cost.is_some_and(|m| self.spent >= m)
                    {
                        break;
                    }
                    match self.propose()? {
                        // A strategy may wait for running trials (a rung to fill).
                        None if in_flight > 0 => break,
                        None => {
                            stopped_early = Some(format!(
                                "the strategy '{}' has nothing left to propose",
                                self.strategy.name()
                            ));
                            break;
                        }
                        Some(Proposal::Reused(i, c)) => {
                            self.store.insert_trial(&self.trials[i])?;
                            self.report(i, &c, in_flight, on_event);
                            // Under `skip`, or when only a cost budget binds (reused results
                            // cost nothing), endless duplicates would never end the study.
                            let unbounded = self.settings.dedup == Dedup::Skip
                                || self.settings.budget == u64::MAX;
                            if unbounded {
                                skipped_in_a_row += 1;
                                if skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW {
                                    stopped_early = Some(format!(
                                        "the strategy proposed {MAX_SKIPPED_IN_A_ROW} known networks in a row; the space looks used up"
                                    ));
                                }
                            }
                            continue;
                        }
                        Some(Proposal::New(i, c)) => {
                            skipped_in_a_row = 0;
                            self.store.insert_trial(&self.trials[i])?;
                            (i, c)
                        }
                    }
                };
                let slot = free_devices.pop();
                let device = slot.map(|d| self.devices[d].clone());
                in_flight += 1;
                on_event(Event::Started {
                    trial: &self.trials[i],
                    in_flight,
                });
                let t = self.trials[i].clone();
                if jobs == 1 {
                    // One at a time runs on this thread, as a plain loop would.
                    let (result, secs) = job.run(t, &c, device);
                    done_tx
                        .send((i, c, slot, result, secs))
                        .expect("the receiver is alive");
                } else {
                    let (job, tx) = (job.clone(), done_tx.clone());
                    std::thread::Builder::new()
                        .name(format!("hnas-trial-{}", t.number))
                        // Evaluators recurse over candidate trees up to the nesting limit.
                        .stack_size(16 << 20)
                        .spawn(move || {
                            let (result, secs) = job.run(t, &c, device);
                            let _ = tx.send((i, c, slot, result, secs));
                        })
                        .map_err(Error::Thread)?;
                }
                if jobs == 1 {
                    break;
                }
            }
            if in_flight == 0 {
                break;
            }
            let (i, c, slot, result, secs) = done_rx.recv().expect("a running trial reports");
            in_flight -= 1;
            if let Some(d) = slot {
                free_devices.push(d);
            }
            self.eval_seconds += secs;
            match result {
                Ok(finished) => self.record(i, &c, finished, in_flight, on_event)?,
                Err(reason) => {
                    self.abandon(i)?;
                    fatal.get_or_insert(reason);
                }
            }
        }
        if let Some(reason) = fatal {
            return Err(Error::Evaluator(reason));
        }
        Ok(self.summary(stopped_early))
    }

    /// Replays the ask of a stored trial: the strategy must propose the same candidate at
    /// the same fidelity.
    fn ask_again(
        &mut self,
        t: &TrialRecord,
        pending: usize,
        keys: &HashMap<(u64, Option<u64>), usize>,
    ) -> Result<(), Error> {
        let proposed = self.ask_fresh(t.number, pending, keys);
        let line = proposed
            .as_ref()
            .map(|a| self.space.print(&a.candidate))
            .unwrap_or_default();
        let fidelity = proposed
            .as_ref()
            .and_then(|a| a.fidelity)
            .or(self.settings.fidelity);
        if line != t.candidate || fidelity != t.fidelity {
            return Err(Error::Diverged {
                trial: t.number,
                stored: describe(&t.candidate, t.fidelity),
                proposed: describe(&line, fidelity),
            });
        }
        Ok(())
    }

    /// Unfinished trials: how many, and their (network, fidelity) keys.
    fn pending_keys(&self) -> (usize, HashMap<(u64, Option<u64>), usize>) {
        let mut keys = HashMap::new();
        for &i in &self.unfinished {
            let t = &self.trials[i];
            *keys
                .entry(seen_key(&t.canonical_hash, t.fidelity))
                .or_default() += 1;
        }
        (self.unfinished.len(), keys)
    }

    /// Asks the strategy for trial `number`; while it proposes a network another unfinished
    /// trial is evaluating (parallel workers), asks again on the same random stream, up to
    /// [`PENDING_RETRIES`] times. A function of the study's events, so replay repeats it.
    fn ask_fresh(
        &mut self,
        number: u64,
        pending: usize,
        keys: &HashMap<(u64, Option<u64>), usize>,
    ) -> Option<Ask> {
        let mut rng = trial_rng(self.settings.seed, number);
        let mut a = self.strategy.ask(number, &mut rng, pending)?;
        for _ in 0..PENDING_RETRIES {
            if keys.is_empty() {
                break;
            }
            let key = (
                self.space.canonical_key(&a.candidate),
                a.fidelity.or(self.settings.fidelity).map(f64::to_bits),
            );
            if !keys.contains_key(&key) {
                break;
            }
            a = self.strategy.ask(number, &mut rng, pending)?;
        }
        Some(a)
    }

    /// The next number of the study's sequence of asks and tells.
    pub fn next_sequence(&self) -> u64 {
        self.seq
    }

    /// Brings the study up to date with trials recorded by other processes: `changed`
    /// holds every stored trial asked or told at [`Study::next_sequence`] or later. Their
    /// asks and tells are applied in sequence order, as a replay would (each ask is checked
    /// against the stored candidate).
    pub fn absorb(&mut self, changed: Vec<TrialRecord>) -> Result<(), Error> {
        enum Ev {
            Ask(TrialRecord),
            Tell(TrialRecord),
        }
        let mut events: Vec<(u64, Ev)> = Vec::new();
        for t in changed {
            if let Some(s) = t.tell_seq.filter(|s| *s >= self.seq) {
                events.push((s, Ev::Tell(t.clone())));
            }
            if t.ask_seq >= self.seq {
                events.push((t.ask_seq, Ev::Ask(t)));
            }
        }
        events.sort_by_key(|e| e.0);
        for (seq, ev) in events {
            match ev {
                Ev::Ask(t) => {
                    if t.number != self.trials.len() as u64 {
                        return Err(Error::Settings(format!(
                            "the study's trials are not numbered densely: trial {} arrived after {}",
                            t.number,
                            self.trials.len()
                        )));
                    }
                    let (pending, keys) = self.pending_keys();
                    if self.strategy.replays_asks() {
                        self.ask_again(&t, pending, &keys)?;
                    }
                    // Asked, not yet told (its tell, if any, is a later event).
                    let mut asked = t;
                    asked.state = TrialState::Running;
                    asked.tell_seq = None;
                    asked.metrics.clear();
                    asked.value = None;
                    asked.error = None;
                    asked.cost = 0.0;
                    self.push_trial(asked);
                }
                Ev::Tell(t) => {
                    let i = t.number as usize;
                    let c = self.candidate_of(&t)?;
                    self.spent += t.cost;
                    self.trials[i] = t;
                    self.unfinished.remove(&i);
                    self.index(i);
                    self.tell_strategy(i, &c);
                }
            }
            self.seq = self.seq.max(seq + 1);
        }
        Ok(())
    }

    /// Asks the strategy for the next trial (with as many pending as the study has
    /// unfinished trials) and records it in memory, not in the store: a new trial to
    /// evaluate, or a duplicate answered from an earlier result (already told to the
    /// strategy). `None` when the strategy has nothing left.
    pub fn propose(&mut self) -> Result<Option<Proposal>, Error> {
        let number = self.trials.len() as u64;
        let (pending, keys) = self.pending_keys();
        let Some(Ask {
            candidate: c,
            fidelity,
        }) = self.ask_fresh(number, pending, &keys)
        else {
            return Ok(None);
        };
        let canonical = self.space.canonical_hash(&c);
        let line = self.space.print(&c);
        let record = TrialRecord {
            number,
            state: TrialState::Running,
            hash: hnas_space::fingerprint_text(&line),
            candidate: line,
            candidate_json: self.space.json_string(&c),
            canonical_hash: canonical.clone(),
            fidelity: fidelity.or(self.settings.fidelity),
            metrics: Metrics::new(),
            value: None,
            error: None,
            duplicate_of: None,
            counted: true,
            cost: 0.0,
            ask_seq: self.next_seq(),
            tell_seq: None,
            started_at: now(),
            finished_at: None,
            worker: None,
            attempt: 1,
        };
        let original = match self.settings.dedup {
            Dedup::Off => None,
            _ => self
                .seen
                .get(&seen_key(&canonical, record.fidelity))
                .copied(),
        };
        Ok(Some(match original {
            Some(o) => {
                let orig = &self.trials[o];
                let mut t = record;
                t.state = orig.state;
                t.metrics = orig.metrics.clone();
                t.value = orig.value;
                t.error = orig.error.clone();
                t.duplicate_of = Some(orig.number);
                t.counted = self.settings.dedup == Dedup::Reuse;
                t.tell_seq = Some(self.next_seq());
                t.finished_at = Some(t.started_at);
                let i = self.push_trial(t);
                self.index(i);
                self.tell_strategy(i, &c);
                Proposal::Reused(i, c)
            }
            None => Proposal::New(self.push_trial(record), c),
        }))
    }

    /// Evaluates trial `i` and gives its finished record (state, metrics, value, error,
    /// cost; no tell sequence), without recording or telling it. `Err` only for a fatal
    /// evaluator error.
    pub fn evaluate(&mut self, i: usize, c: &Candidate) -> Result<TrialRecord, EvalError> {
        let (result, secs) = self.evaluation(None).run(self.trials[i].clone(), c, None);
        self.eval_seconds += secs;
        result
    }

    /// What a trial's evaluation needs, with each trial's share of the cores.
    fn evaluation(&self, threads: Option<usize>) -> Evaluation {
        Evaluation {
            evaluator: self.evaluator.clone(),
            space: self.space.clone(),
            goals: self.goals.clone(),
            seed: self.settings.seed,
            threads,
        }
    }

    fn push_trial(&mut self, t: TrialRecord) -> usize {
        self.counted += u64::from(t.counted);
        self.spent += t.cost;
        if t.tell_seq.is_none() {
            self.unfinished.insert(self.trials.len());
        }
        self.trials.push(t);
        self.trials.len() - 1
    }

    fn summary(&self, stopped_early: Option<String>) -> Summary {
        Summary {
            trials: self.trials.len(),
            counted: self.counted(),
            complete: self
                .trials
                .iter()
                .filter(|t| t.state == TrialState::Complete && t.duplicate_of.is_none())
                .count(),
            failed: self
                .trials
                .iter()
                .filter(|t| t.state == TrialState::Failed && t.duplicate_of.is_none())
                .count(),
            duplicates: self
                .trials
                .iter()
                .filter(|t| t.duplicate_of.is_some())
                .count(),
            stopped_early,
        }
    }

    /// Records a finished evaluation of trial `i`: its tell, in the store and to the strategy.
    fn record(
        &mut self,
        i: usize,
        c: &Candidate,
        mut finished: TrialRecord,
        in_flight: usize,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), Error> {
        self.spent += finished.cost;
        finished.tell_seq = Some(self.next_seq());
        self.trials[i] = finished;
        self.unfinished.remove(&i);
        self.store.update_trial(&self.trials[i])?;
        self.index(i);
        self.tell_strategy(i, c);
        self.report(i, c, in_flight, on_event);
        Ok(())
    }

    /// After a fatal evaluator error: the unfinished last trial is removed (a later run asks
    /// for the same candidate again); one in the middle cannot go without renumbering, so it
    /// stays unfinished, to be run again on resume. Nothing half-written either way.
    fn abandon(&mut self, i: usize) -> Result<(), Error> {
        if i + 1 == self.trials.len() && self.trials[i].tell_seq.is_none() {
            self.store.delete_trial(self.trials[i].number)?;
            let t = self.trials.pop().expect("index checked above");
            self.unfinished.remove(&i);
            self.counted -= u64::from(t.counted);
        }
        Ok(())
    }

    /// Tells the strategy the outcome of trial `i` (already indexed).
    fn tell_strategy(&mut self, i: usize, c: &Candidate) {
        let t = &self.trials[i];
        let objectives = self.goals.vector(t).unwrap_or_default();
        self.strategy.tell(&Outcome {
            trial: t.number,
            candidate: c,
            score: self.goals.score(t),
            metrics: &t.metrics,
            objectives: &objectives,
            violation: self.goals.violation(t),
            fidelity: t.fidelity,
        });
    }

    fn report(
        &self,
        i: usize,
        _c: &Candidate,
        in_flight: usize,
        on_event: &mut dyn FnMut(Event<'_>),
    ) {
        on_event(Event::Trial {
            trial: &self.trials[i],
            best: self.best(),
            counted: self.counted(),
            budget: self.settings.budget,
            in_flight,
        });
    }
}

/// The duplicate index's key: the same network at the same fidelity.
fn seen_key(canonical: &str, fidelity: Option<f64>) -> (u64, Option<u64>) {
    (hash_key(canonical), fidelity.map(f64::to_bits))
}

fn describe(line: &str, fidelity: Option<f64>) -> String {
    match fidelity {
        Some(f) => format!("{line} at fidelity {f}"),
        None => line.to_string(),
    }
}

/// The numeric value of a 16-hex-digit hash (any other text maps by its own hash).
fn hash_key(hex: &str) -> u64 {
    u64::from_str_radix(hex, 16).unwrap_or_else(|_| xxhash_rust::xxh3::xxh3_64(hex.as_bytes()))
}

fn to_json(s: &Settings) -> String {
    serde_json::to_string(s).expect("settings serialize")
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
