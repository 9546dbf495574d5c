//! # hnas-store: studies and trials
//!
//! A study is its settings (an opaque JSON document written by the driver) and its trials.
//! [`SqliteStore`] keeps one study per file, crash-safe (write-ahead log, one transaction
//! per change); [`MemoryStore`] keeps it in memory (benchmarks, tests). Both implement
//! [`Store`].

mod memory;
#[cfg(feature = "postgres")]
mod pg;
mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use pg::{is_postgres_url, split_study, PgStore};
pub use sqlite::SqliteStore;

/// The store at `location`: a PostgreSQL URL (`postgres://USER@HOST/DB?study=NAME`, with
/// the `postgres` feature), or an SQLite file (created if absent).
pub fn open(location: &str) -> Result<Box<dyn Store>, StoreError> {
    #[cfg(feature = "postgres")]
    if is_postgres_url(location) {
        return Ok(Box::new(PgStore::open(location)?));
    }
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        return Err(StoreError::Open {
            path: location.into(),
            message: "this build of hnas has no PostgreSQL support (feature 'postgres')".into(),
        });
    }
    Ok(Box::new(SqliteStore::open(std::path::Path::new(location))?))
}

/// Opens an existing study for reading: a PostgreSQL URL, or an SQLite file opened
/// read-only (so that reading a study never creates or changes a file). A path that names no
/// file is refused with a sentence saying what was expected.
pub fn open_existing(location: &str) -> Result<Box<dyn Store>, StoreError> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        return open(location);
    }
    let path = std::path::Path::new(location);
    if !path.is_file() {
        return Err(StoreError::NoStudy(location.into()));
    }
    Ok(Box::new(SqliteStore::open_read_only(path)?))
}

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Where a trial is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialState {
    /// Created, not yet handed to an evaluator.
    Pending,
    /// Being evaluated.
    Running,
    /// Evaluated; metrics recorded.
    Complete,
    /// The evaluation failed; `error` says why.
    Failed,
    /// Stopped early by a multi-fidelity strategy.
    Pruned,
}

impl TrialState {
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Pending => "pending",
            TrialState::Running => "running",
            TrialState::Complete => "complete",
            TrialState::Failed => "failed",
            TrialState::Pruned => "pruned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => TrialState::Pending,
            "running" => TrialState::Running,
            "complete" => TrialState::Complete,
            "failed" => TrialState::Failed,
            "pruned" => TrialState::Pruned,
            _ => return None,
        })
    }

    /// Whether the trial has an outcome.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Failed | TrialState::Pruned
        )
    }
}

impl fmt::Display for TrialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One trial as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// 0, 1, 2, ... in the order trials were asked.
    pub number: u64,
    pub state: TrialState,
    /// The candidate's one-line form.
    pub candidate: String,
    /// The candidate's JSON form.
    pub candidate_json: String,
    /// Fingerprint (exact form) and canonical hash (same network).
    pub hash: String,
    pub canonical_hash: String,
    pub fidelity: Option<f64>,
    pub metrics: BTreeMap<String, f64>,
    /// The objective's value (as measured, not sign-adjusted), when there is one.
    pub value: Option<f64>,
    pub error: Option<String>,
    /// The earlier trial whose result this one reuses (a duplicate candidate).
    pub duplicate_of: Option<u64>,
    /// Whether the trial counts toward the study's budget.
    pub counted: bool,
    /// What the evaluation cost, in the evaluator's unit (0 for a reused duplicate).
    pub cost: f64,
    /// Positions in the study's sequence of asks and tells: replaying them in this order
    /// rebuilds a strategy's state exactly.
    pub ask_seq: u64,
    pub tell_seq: Option<u64>,
    /// Seconds since the Unix epoch.
    pub started_at: f64,
    pub finished_at: Option<f64>,
    pub worker: Option<String>,
    pub attempt: u32,
}

/// A study's header.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRecord {
    /// What the study is called: as first written (the space file's name), except in
    /// PostgreSQL, where it is the study's key in the database (`?study=NAME`).
    pub name: String,
    /// The driver's settings, as JSON; [`Store::put_study`] on a stored study rewrites
    /// these only (name and creation time stay as first written).
    pub settings: String,
    pub created_at: f64,
}

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {message}")]
    Open { path: String, message: String },
    #[error("study store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("study store holds malformed data: {0}")]
    Corrupt(String),
    #[error("no study at {0}; expected the file a 'hnas search --study FILE' wrote")]
    NoStudy(String),
    #[error("trial {0} does not exist")]
    NoTrial(u64),
    #[error("study store (PostgreSQL): {0}")]
    Postgres(String),
}

/// Where a study's trials live.
pub trait Store: Send {
    /// The study header, if the store holds a study.
    fn study(&self) -> Result<Option<StudyRecord>, StoreError>;
    /// Creates the study (or replaces its settings, e.g. a larger budget).
    fn put_study(&mut self, s: &StudyRecord) -> Result<(), StoreError>;
    /// Every trial, by number.
    fn trials(&self) -> Result<Vec<TrialRecord>, StoreError>;
    /// Adds a new trial.
    fn insert_trial(&mut self, t: &TrialRecord) -> Result<(), StoreError>;
    /// Replaces a trial's record (its outcome).
    fn update_trial(&mut self, t: &TrialRecord) -> Result<(), StoreError>;
    /// Removes a trial that must not stay (its evaluation could not even start).
    fn delete_trial(&mut self, number: u64) -> Result<(), StoreError>;
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
