//! The study driver.

use crate::{Dedup, Error, Objective, Settings};
use hnas_eval::{EvalError, Evaluator, Metrics};
use hnas_search::{build, trial_rng, Outcome, Strategy, StrategySpec};
use hnas_space::{Candidate, Space};
use hnas_store::{now, Store, StudyRecord, TrialRecord, TrialState};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// How many duplicates in a row end a study under `Dedup::Skip` (the strategy keeps
/// proposing known networks: the space, or its reachable part, is used up).
const MAX_SKIPPED_IN_A_ROW: u64 = 10_000;

/// What the driver reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// A study with stored trials was reopened.
    Resumed { trials: usize, unfinished: usize },
    /// A trial finished (or was answered from a duplicate).
    Trial {
        trial: &'a TrialRecord,
        best: Option<&'a TrialRecord>,
        counted: u64,
        budget: u64,
    },
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
    objective: Objective,
    evaluator: Arc<dyn Evaluator>,
    strategy: Box<dyn Strategy>,
    store: Box<dyn Store>,
    trials: Vec<TrialRecord>,
    /// Canonical hash -> first finished trial with that hash.
    /// Canonical hash (as a number: no string kept twice) -> first finished trial.
    seen: HashMap<u64, usize>,
    seq: u64,
    /// Index of the best complete trial.
    best: Option<usize>,
    /// Time spent inside the evaluator, so that the engine's own overhead can be measured.
    eval_seconds: f64,
    /// Trials that count toward the budget (kept, not recounted: the loop checks it per trial).
    counted: u64,
}

fn value_of(objective: &Objective, t: &TrialRecord) -> Option<f64> {
    (t.state == TrialState::Complete)
        .then_some(t.value)
        .flatten()
        .filter(|v| v.is_finite())
        .map(|v| objective.score(v))
}

impl Study {
    /// Opens (or creates) the study in `store`, replaying its stored trials.
    pub fn open(
        settings: Settings,
        evaluator: Arc<dyn Evaluator>,
        mut store: Box<dyn Store>,
    ) -> Result<Study, Error> {
        let space = Space::parse(&settings.space_file, &settings.space)
            .map_err(|d| Error::Space(d.render()))?;
        let space = Arc::new(space);
        let objective = Objective::parse(&settings.objective)?;
        let offered = evaluator.metrics();
        for m in std::iter::once(&objective.metric).chain(settings.report.iter()) {
            if !offered.contains(m) {
                return Err(Error::Settings(format!(
                    "unknown metric '{m}' for evaluator '{}'; expected one of: {}",
                    evaluator.name(),
                    offered.join(", ")
                )));
            }
        }
        evaluator
            .check_space(&space)
            .map_err(|e| Error::Evaluator(e.to_string()))?;
        let spec = StrategySpec::parse(&settings.strategy)?;
        let strategy = build(&spec, space.clone())?;

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
                if stored.budget != settings.budget || stored.report != settings.report {
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
            objective,
            evaluator,
            strategy,
            store,
            trials: Vec::new(),
            seen: HashMap::new(),
            seq: 0,
            best: None,
            eval_seconds: 0.0,
            counted: 0,
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
        for (_, ev) in &events {
            match *ev {
                Ev::Ask(i) => {
                    let t = &trials[i];
                    let mut rng = trial_rng(self.settings.seed, t.number);
                    let proposed = self.strategy.ask(t.number, &mut rng, pending);
                    let proposed_line = proposed
                        .as_ref()
                        .map(|c| self.space.print(c))
                        .unwrap_or_default();
                    if proposed_line != t.candidate {
                        return Err(Error::Diverged {
                            trial: t.number,
                            stored: t.candidate.clone(),
                            proposed: proposed_line,
                        });
                    }
                    pending += 1;
                }
                Ev::Tell(i) => {
                    let t = &trials[i];
                    let c = self.candidate_of(t)?;
                    let score = value_of(&self.objective, t);
                    self.strategy.tell(&Outcome {
                        trial: t.number,
                        candidate: &c,
                        score,
                        metrics: &t.metrics,
                    });
                    pending -= 1;
                }
            }
        }
        self.seq = events.last().map_or(0, |e| e.0 + 1);
        self.counted = trials.iter().filter(|t| t.counted).count() as u64;
        self.trials = trials;
        for i in 0..self.trials.len() {
            self.index(i);
        }
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
        self.seen.entry(hash_key(&t.canonical_hash)).or_insert(i);
        if let Some(v) = value_of(&self.objective, t) {
            if self.best.is_none_or(|b| {
                v > value_of(&self.objective, &self.trials[b]).unwrap_or(f64::NEG_INFINITY)
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
    pub fn objective(&self) -> &Objective {
        &self.objective
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

    /// The best complete trial so far.
    pub fn best(&self) -> Option<&TrialRecord> {
        self.best.map(|i| &self.trials[i])
    }

    /// Trials that count toward the budget.
    pub fn counted(&self) -> u64 {
        self.counted
    }

    /// Complete trials, best first, one per canonical network.
    pub fn leaderboard(&self, k: usize) -> Vec<&TrialRecord> {
        let mut v: Vec<&TrialRecord> = self
            .trials
            .iter()
            .filter(|t| t.duplicate_of.is_none() && value_of(&self.objective, t).is_some())
            .collect();
        v.sort_by(|a, b| {
            let (x, y) = (
                value_of(&self.objective, a).unwrap_or(f64::NEG_INFINITY),
                value_of(&self.objective, b).unwrap_or(f64::NEG_INFINITY),
            );
            y.total_cmp(&x).then(a.number.cmp(&b.number))
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

    /// Runs until the budget is spent, the strategy has nothing left, or an error.
    pub fn run(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> Result<Summary, Error> {
        let unfinished: Vec<usize> = (0..self.trials.len())
            .filter(|&i| self.trials[i].tell_seq.is_none())
            .collect();
        if !self.trials.is_empty() {
            on_event(Event::Resumed {
                trials: self.trials.len(),
                unfinished: unfinished.len(),
            });
        }
        for i in unfinished {
            let c = self.candidate_of(&self.trials[i])?;
            self.evaluate_and_tell(i, &c, on_event)?;
        }
        let mut stopped_early = None;
        let mut skipped_in_a_row = 0u64;
        while self.counted() < self.settings.budget {
            let number = self.trials.len() as u64;
            let mut rng = trial_rng(self.settings.seed, number);
            let Some(c) = self.strategy.ask(number, &mut rng, 0) else {
                stopped_early = Some(format!(
                    "the strategy '{}' has nothing left to propose",
                    self.strategy.name()
                ));
                break;
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
                fidelity: self.settings.fidelity,
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
                _ => self.seen.get(&hash_key(&canonical)).copied(),
            };
            match original {
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
                    self.store.insert_trial(&t)?;
                    let i = self.push_trial(t);
                    self.tell_and_report(i, &c, on_event);
                    if self.settings.dedup == Dedup::Skip {
                        skipped_in_a_row += 1;
                        if skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW {
                            stopped_early = Some(format!(
                                "the strategy proposed {MAX_SKIPPED_IN_A_ROW} known networks in a row; the space looks used up"
                            ));
                            break;
                        }
                    }
                }
                None => {
                    skipped_in_a_row = 0;
                    self.store.insert_trial(&record)?;
                    let i = self.push_trial(record);
                    self.evaluate_and_tell(i, &c, on_event)?;
                }
            }
        }
        Ok(self.summary(stopped_early))
    }

    fn push_trial(&mut self, t: TrialRecord) -> usize {
        self.counted += u64::from(t.counted);
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

    fn evaluate_and_tell(
        &mut self,
        i: usize,
        c: &Candidate,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), Error> {
        let fidelity = self.trials[i].fidelity;
        let started = std::time::Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.evaluator.evaluate(&self.space, c, fidelity)
        }))
        .unwrap_or_else(|p| {
            Err(EvalError::Failed(format!(
                "the evaluator panicked: {}",
                panic_message(&p)
            )))
        });
        self.eval_seconds += started.elapsed().as_secs_f64();
        let result = result.and_then(|m| self.check_metrics(m));
        let cost = self.evaluator.cost(fidelity);
        match result {
            Ok(m) => {
                let t = &mut self.trials[i];
                t.state = TrialState::Complete;
                t.value = m.get(&self.objective.metric).copied();
                t.metrics = m;
                t.cost = cost;
            }
            Err(EvalError::Failed(reason)) => {
                let t = &mut self.trials[i];
                t.state = TrialState::Failed;
                t.error = Some(reason);
                t.cost = cost;
            }
            Err(EvalError::Fatal(reason)) => {
                // Nothing half-written: the unfinished last trial is removed (a later run
                // asks for the same candidate again); one in the middle of a resumed study
                // cannot go without renumbering, so it stays unfinished.
                if i + 1 == self.trials.len() && self.trials[i].tell_seq.is_none() {
                    self.store.delete_trial(self.trials[i].number)?;
                    let t = self.trials.pop().expect("index checked above");
                    self.counted -= u64::from(t.counted);
                }
                return Err(Error::Evaluator(reason));
            }
        }
        let seq = self.next_seq();
        let t = &mut self.trials[i];
        t.tell_seq = Some(seq);
        t.finished_at = Some(now());
        self.store.update_trial(&self.trials[i])?;
        self.tell_and_report(i, c, on_event);
        Ok(())
    }

    fn check_metrics(&self, m: Metrics) -> Result<Metrics, EvalError> {
        if let Some((k, v)) = m.iter().find(|(_, v)| !v.is_finite()) {
            return Err(EvalError::Failed(format!("metric '{k}' is {v}")));
        }
        if !m.contains_key(&self.objective.metric) {
            return Err(EvalError::Failed(format!(
                "the evaluator returned no '{}'",
                self.objective.metric
            )));
        }
        Ok(m)
    }

    fn tell_and_report(&mut self, i: usize, c: &Candidate, on_event: &mut dyn FnMut(Event<'_>)) {
        self.index(i);
        let t = &self.trials[i];
        let score = value_of(&self.objective, t);
        self.strategy.tell(&Outcome {
            trial: t.number,
            candidate: c,
            score,
            metrics: &t.metrics,
        });
        let counted = self.counted();
        on_event(Event::Trial {
            trial: &self.trials[i],
            best: self.best(),
            counted,
            budget: self.settings.budget,
        });
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
