//! # hnas-eval: evaluators
//!
//! An [`Evaluator`] turns a candidate (and a fidelity, such as a number of epochs) into
//! named metrics, or fails with a reason. Evaluators here:
//! - [`Tabular`]: look the candidate up in a CSV table (any table a user brings, keyed by the
//!   candidate's one-line form, or NAS-Bench-201's cell string);
//! - NAS-Bench-201 presets `nb201:cifar10`, `nb201:cifar100`, `nb201:imagenet16`;
//! - [`HashScore`]: a deterministic pseudo-random score for tests and overhead benchmarks;
//! - [`CommandEvaluator`]: any program, run once per evaluation (`command:[...]`).
//!
//! [`from_name`] builds any of them from its name.

mod command;
mod nb201;
mod tabular;

pub use command::{CommandEvaluator, CommandSpec};
pub use nb201::{nb201, nb201_csv, nb201_source, Nb201Source, NB201_DATASETS, NB201_ROWS};
pub use tabular::{KeyForm, Tabular};

use hnas_space::{Candidate, Space};
use std::collections::BTreeMap;

/// Named metric values of one evaluation.
pub type Metrics = BTreeMap<String, f64>;

/// Why an evaluation produced no metrics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// This candidate failed (a crash, a NaN, an invalid network): the trial is recorded as
    /// failed with the reason and the search goes on.
    #[error("{0}")]
    Failed(String),
    /// The study is misconfigured (a missing table, a space the evaluator cannot read): no
    /// further trial can succeed, so the search stops with this message.
    #[error("{0}")]
    Fatal(String),
    /// The evaluation was stopped early (its intermediate results were poor): the trial is
    /// recorded as pruned with the metrics reported so far and the reason.
    #[error("{reason}")]
    Stopped { reason: String, metrics: Metrics },
}

/// What the driver knows of the trial an evaluation belongs to (for evaluators that pass it
/// on, such as an external program that seeds its training with it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrialInfo {
    pub trial: u64,
    pub seed: u64,
    /// The device the driver handed this trial (`cuda:1`, ..; `--devices`), if any: the
    /// trial runs there and nowhere else.
    pub device: Option<String>,
    /// When several trials run at once: the threads this trial's own work may use (its
    /// share of the machine's cores). `None`: it runs alone and may use them all.
    pub threads: Option<usize>,
}

/// Turns candidates into metrics.
pub trait Evaluator: Send + Sync {
    /// The evaluator's name as written in study settings.
    fn name(&self) -> &str;

    /// The metrics it returns (at the default fidelity); empty when it cannot say before
    /// running (an external program that declared none).
    fn metrics(&self) -> Vec<String>;

    /// Evaluates a candidate of `space` at `fidelity` (`None`: the evaluator's default).
    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
    ) -> Result<Metrics, EvalError>;

    /// Checks before a study starts that the evaluator can read candidates of this space.
    /// [`Evaluator::evaluate`] for a given trial of a study.
    fn evaluate_trial(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
        _trial: &TrialInfo,
    ) -> Result<Metrics, EvalError> {
        self.evaluate(space, c, fidelity)
    }

    fn check_space(&self, _space: &Space) -> Result<(), EvalError> {
        Ok(())
    }

    /// What one evaluation at `fidelity` costs, in the evaluator's unit (see [`Evaluator::cost_unit`]).
    fn cost(&self, _fidelity: Option<f64>) -> f64 {
        1.0
    }

    /// The unit of [`Evaluator::cost`].
    fn cost_unit(&self) -> &str {
        "evaluations"
    }

    /// The fidelities it offers besides its default, lowest first (empty: one fidelity).
    fn fidelities(&self) -> Vec<f64> {
        Vec::new()
    }

    /// The best value of `metric` over every candidate, where the evaluator knows it
    /// (tabular benchmarks): the reference for regret.
    fn optimum(&self, _metric: &str, _maximize: bool) -> Option<f64> {
        None
    }

    /// How many trials to evaluate at once by default (`--jobs auto`) on a machine with
    /// `cores` cores. 1 by default: right for a lookup that takes microseconds (threads
    /// gain nothing and change which trials are proposed) and for an evaluator that must
    /// not run concurrently; an evaluator that keeps one core busy per trial says `cores`.
    fn auto_jobs(&self, _cores: usize) -> usize {
        1
    }
}

/// A closure as an evaluator, for a program that scores candidates itself:
/// `FnEvaluator::new("mine", &["accuracy"], |space, c| ...)`. `metrics` lists what it
/// returns (empty: checked per trial).
pub struct FnEvaluator<F> {
    name: String,
    metrics: Vec<String>,
    f: F,
}

impl<F> FnEvaluator<F>
where
    F: Fn(&Space, &Candidate) -> Result<Metrics, EvalError> + Send + Sync,
{
    pub fn new(name: &str, metrics: &[&str], f: F) -> Self {
        FnEvaluator {
            name: name.into(),
            metrics: metrics.iter().map(|m| m.to_string()).collect(),
            f,
        }
    }
}

impl<F> Evaluator for FnEvaluator<F>
where
    F: Fn(&Space, &Candidate) -> Result<Metrics, EvalError> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn metrics(&self) -> Vec<String> {
        self.metrics.clone()
    }
    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        _fidelity: Option<f64>,
    ) -> Result<Metrics, EvalError> {
        (self.f)(space, c)
    }
}

/// A deterministic pseudo-random score in [0, 1) from the candidate's fingerprint: the
/// evaluator for tests and for measuring the engine's own overhead.
pub struct HashScore;

impl Evaluator for HashScore {
    fn name(&self) -> &str {
        "hash"
    }
    fn metrics(&self) -> Vec<String> {
        vec!["score".into()]
    }
    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        _fidelity: Option<f64>,
    ) -> Result<Metrics, EvalError> {
        let h = xxhash_rust::xxh3::xxh3_64(space.print(c).as_bytes());
        Ok(Metrics::from([(
            "score".to_string(),
            (h >> 11) as f64 / (1u64 << 53) as f64,
        )]))
    }
}

/// [`HashScore`] that takes `millis` milliseconds per evaluation (`sleep:MS`): a stand-in
/// for training when measuring how workers scale.
pub struct SleepScore {
    name: String,
    millis: u64,
}

impl Evaluator for SleepScore {
    fn name(&self) -> &str {
        &self.name
    }
    fn metrics(&self) -> Vec<String> {
        HashScore.metrics()
    }
    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
    ) -> Result<Metrics, EvalError> {
        std::thread::sleep(std::time::Duration::from_millis(self.millis));
        HashScore.evaluate(space, c, fidelity)
    }
}

/// Names [`from_name`] accepts, for messages.
pub const EVALUATORS: &str = "nb201:cifar10, nb201:cifar100, nb201:imagenet16, table:PATH[,key=COLUMN][,form=line|nb201|network], command:[\"PROGRAM\",\"ARG\",...], train:mnist1d|fashion-mnist|idx:DIR|csv:FILE[,epochs=N,...], proxy:DATASET|shape=CxHxW[,proxies=a+b,...], hash, sleep:MS";

/// Builds an evaluator from its name.
pub fn from_name(name: &str) -> Result<Box<dyn Evaluator>, EvalError> {
    if name == "python" {
        return Err(EvalError::Fatal(
            "this study's trials are evaluated by a Python function (hnas.create_study in Python): run it from Python, hnas.load_study(PATH).optimize(function); the CLI can show it (hnas trials, hnas report)".into(),
        ));
    }
    if let Some(ds) = name.strip_prefix("nb201:") {
        return Ok(Box::new(nb201(ds)?));
    }
    if let Some(rest) = name.strip_prefix("table:") {
        let mut parts = rest.split(',');
        let path = parts.next().unwrap_or_default();
        let mut key = "arch".to_string();
        let mut form = KeyForm::Line;
        for p in parts {
            match p.split_once('=') {
                Some(("key", v)) => key = v.to_string(),
                Some(("form", "line")) => form = KeyForm::Line,
                Some(("form", "nb201")) => form = KeyForm::Nb201,
                Some(("form", "network")) => form = KeyForm::Network,
                _ => {
                    return Err(EvalError::Fatal(format!(
                        "evaluator '{name}': unknown option '{p}'; expected key=COLUMN or form=line|nb201|network"
                    )))
                }
            }
        }
        return Ok(Box::new(Tabular::from_csv(
            name,
            std::path::Path::new(path),
            &key,
            form,
            None,
        )?));
    }
    if let Some(rest) = name.strip_prefix("command:") {
        return Ok(Box::new(CommandEvaluator::parse(rest)?));
    }
    if let Some(ms) = name.strip_prefix("sleep:") {
        let millis = ms.parse::<u64>().map_err(|_| {
            EvalError::Fatal(format!(
                "evaluator '{name}': expected sleep:MILLISECONDS, as in sleep:50"
            ))
        })?;
        return Ok(Box::new(SleepScore {
            name: name.to_string(),
            millis,
        }));
    }
    if name == "hash" {
        return Ok(Box::new(HashScore));
    }
    Err(EvalError::Fatal(format!(
        "unknown evaluator '{name}'; expected one of: {EVALUATORS}"
    )))
}
