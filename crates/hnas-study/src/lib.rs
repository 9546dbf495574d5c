//! # hnas-study: the driver that owns a study
//!
//! A [`Study`] wires a space, a strategy, an evaluator and a store: it asks the strategy for
//! a candidate, records the trial, evaluates it (or reuses the result of an earlier
//! identical candidate), records the outcome and tells the strategy. Opening a study whose
//! store already holds trials resumes it: the strategy is rebuilt by replaying the stored
//! asks and tells in order, trials cut off by a crash are evaluated again, and the run goes
//! on to the budget, ending with the same trials as an uninterrupted run.

mod bench;
mod builder;
mod objective;
pub mod predict;
mod prior;
mod results;
mod settings;
mod study;
mod study_file;
#[cfg(feature = "postgres")]
mod worker;

pub use bench::{run_benchmark, BenchConfig, BenchResult, StrategyCurves};
pub use builder::StudyBuilder;
pub use objective::{Constraint, Objective, MNAS_W};
pub use prior::{
    evaluator_by_name, prior_from_spec, set_evaluator_registry, EvaluatorPrior, Registry,
};
pub use results::{stored_settings, StudyData};
pub use settings::{default_objective, Dedup, Settings};
pub use study::{Asked, Event, Goals, MakeStrategy, Proposal, Study, Summary};
pub use study_file::{parse_devices, resolve_jobs, Jobs, StudyFile};
#[cfg(feature = "postgres")]
pub use worker::{run_worker, WorkerConfig, WorkerEvent, WorkerSummary};

/// Why a study cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The space does not parse or check: every problem at `file:line:col`.
    #[error("{}", .0.render())]
    Space(#[from] hnas_space::Diagnostics),
    /// A candidate (stored, listed or written) is not a member of the space, or the space
    /// cannot give what was asked of it (every member of an infinite space).
    #[error("{0}")]
    Candidate(String),
    #[error(transparent)]
    Strategy(#[from] hnas_search::Error),
    /// The evaluator cannot serve this study (a missing table, an unknown name), or failed
    /// in a way no further trial can avoid.
    #[error(transparent)]
    Evaluator(#[from] hnas_eval::EvalError),
    /// The system would not start a thread for a trial.
    #[error("cannot start a trial thread: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Store(#[from] hnas_store::StoreError),
    /// The settings (or a study file) are wrong: the message says which and what was
    /// expected.
    #[error("{0}")]
    Settings(String),
    #[error(
        "resuming diverged at trial {trial}: the store holds '{stored}' but the strategy now proposes '{proposed}' (was the study written by another version of hnas?)"
    )]
    Diverged {
        trial: u64,
        stored: String,
        proposed: String,
    },
}
