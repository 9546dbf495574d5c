//! # hnas: hierarchical neural architecture search, as a library
//!
//! A search space is a grammar; a [`Study`] searches it with a strategy (one of hnas's, or
//! your own [`Strategy`]), scoring candidates with an [`Evaluator`] (a tabular benchmark, an
//! external program, or your own code), and keeps every trial in a store (memory, an SQLite
//! file, PostgreSQL) from which it resumes exactly.
//!
//! ```
//! use hnas::prelude::*;
//! use std::sync::Arc;
//!
//! let space = "net = net(x = int(0, 11), op = op)\nop = a | b | c";
//! // Score: closest to x = 7, and `c` is worth one more.
//! let score = FnEvaluator::new("score", &["score"], |space: &Space, c: &Candidate| {
//!     let tree = space.to_json(c);
//!     let x = tree["root"]["args"]["x"].as_i64().unwrap_or(0);
//!     let bonus = if tree["root"]["args"]["op"]["op"] == "c" { 1.0 } else { 0.0 };
//!     Ok(Metrics::from([("score".to_string(), bonus - (x - 7).abs() as f64)]))
//! });
//! let mut study = Study::builder()
//!     .space("tiny.hnas", space)
//!     .strategy("rea:population=6,sample=2")
//!     .evaluator("score", Arc::new(score))
//!     .objective("max:score")
//!     .budget(30)
//!     .seed(1)
//!     .open()?;
//! let summary = study.run(&mut |_event| {})?;
//! assert_eq!(summary.counted, 30);
//! let best = study.best().expect("a complete trial");
//! assert_eq!(best.candidate, "net(x=7,op=c)");
//! # Ok::<(), hnas::study::Error>(())
//! ```
//!
//! The parts, each its own crate re-exported here: [`space`] (the language: parse, count,
//! sample, mutate, hash), [`search`] (the [`Strategy`] trait and the strategies), [`eval`]
//! (the [`Evaluator`] trait, tabular and external-program evaluators), [`store`] (SQLite,
//! PostgreSQL, memory), [`study`] (the driver, the builder, the study file, results,
//! workers, the benchmark harness), [`report`] (figures, the HTML report, the dashboard's
//! data) and [`net`] (a candidate compiled to a network, its parameters and FLOPs, PyTorch
//! source). Real training with burn is `hnas-train`, kept apart for its weight: the `train`
//! feature adds it as `hnas::train`, and [`install_evaluators`] makes its evaluators
//! reachable by name (`Study::builder().file("study.toml")` reads the same study file as
//! `hnas search --file`). The examples (in
//! `crates/hnas/examples/`, run by `cargo test -p hnas`) show a strategy of your own, an
//! evaluator of your own, and a loop you drive with `ask` / `tell`.

pub use hnas_eval as eval;
pub use hnas_net as net;
pub use hnas_report as report;
pub use hnas_search as search;
pub use hnas_space as space;
pub use hnas_store as store;
pub use hnas_study as study;
#[cfg(feature = "train")]
pub use hnas_train as train;

pub use hnas_eval::{EvalError, Evaluator, FnEvaluator, Metrics};
pub use hnas_search::{trial_rng, Ask, Outcome, Strategy};
pub use hnas_space::{Candidate, SampleMode, Space};
pub use hnas_study::{Dedup, Event, Study, StudyBuilder, Summary};

/// An evaluator by name: `nb201:..`, `table:..`, `command:..`, `hash`, and with the
/// `train` feature `train:..`, `proxy:..` and `oneshot:..`.
pub fn evaluator(name: &str) -> Result<Box<dyn Evaluator>, EvalError> {
    #[cfg(feature = "train")]
    return hnas_train::evaluator(name);
    #[cfg(not(feature = "train"))]
    hnas_eval::from_name(name)
}

/// Makes every named evaluator this build has ([`evaluator`]) reachable by name from
/// studies, priors and study files (`StudyBuilder::evaluator_named`, `StudyBuilder::file`).
pub fn install_evaluators() {
    hnas_study::set_evaluator_registry(evaluator);
}

/// What a program using hnas usually needs, in one `use`.
pub mod prelude {
    pub use crate::{
        trial_rng, Ask, Candidate, Dedup, EvalError, Evaluator, Event, FnEvaluator, Metrics,
        Outcome, SampleMode, Space, Strategy, Study, StudyBuilder, Summary,
    };
    pub use rand_chacha::ChaCha8Rng;
}
