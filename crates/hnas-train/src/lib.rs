//! # hnas-train: real training of candidate networks
//!
//! The only hnas crate that depends on burn. A candidate of a network space is compiled
//! ([`compile`]) into a [`Net`]: layers with shapes inferred before any tensor exists, so an
//! invalid network fails at once, and with parameter and FLOP counts read off it. A [`Model`]
//! gives the net its weights on a burn backend; [`train()`](train::train) trains it.
//! [`TrainEvaluator`] is the `train:` evaluator (`train:mnist1d`, `train:fashion-mnist`,
//! `train:idx:DIR`, `train:csv:FILE`), and [`DEFAULT_SPACE`] the space `hnas search` runs
//! with no arguments.

pub mod bench;
pub mod darts;
pub mod data;
pub mod evaluator;
pub mod model;
pub mod oneshot;
pub mod ops;
pub mod proxy;
pub mod slice;
pub mod supernet;
pub mod train;

// Compiling and exporting need no tensors: they live in hnas-net, re-exported here so that
// `hnas_train::compile` and friends keep working.
pub use data::{Dataset, Split};
pub use evaluator::{ProgressSink, TrainEvaluator, METRICS};
pub use hnas_net::{compile, export, net};
pub use hnas_net::{parse_shape, CompileError, Compiled, Optim, Skeleton, TrainArgs, OPERATIONS};
pub use hnas_net::{Net, Shape};
pub use model::Model;
pub use train::{TrainConfig, TrainResult};

/// The default space: hierarchical 1-D networks for MNIST-1D (`spaces/mnist1d.hnas`).
pub const DEFAULT_SPACE: &str = include_str!("../spaces/mnist1d.hnas");

/// The file name the default space reports in messages.
pub const DEFAULT_SPACE_NAME: &str = "mnist1d.hnas";

/// Every evaluator by its name: `train:..`, `proxy:..` and `oneshot:..` here, the rest
/// (`nb201:..`, `table:..`, `command:..`, `hash`) through hnas-eval. The registry a program
/// installs with `hnas_study::set_evaluator_registry` to reach the training evaluators
/// (the `hnas` binary does).
pub fn evaluator(name: &str) -> Result<Box<dyn hnas_eval::Evaluator>, hnas_eval::EvalError> {
    if let Some(spec) = name.strip_prefix("proxy:") {
        return Ok(Box::new(proxy::ProxyEvaluator::parse(spec)?));
    }
    if let Some(spec) = name.strip_prefix("oneshot:") {
        return Ok(Box::new(oneshot::OneShotEvaluator::parse(spec)?));
    }
    match from_name(name) {
        Some(ev) => Ok(Box::new(ev?)),
        None => hnas_eval::from_name(name),
    }
}

/// Builds a `train:` evaluator from its full name; `None` when the name is not `train:..`.
pub fn from_name(name: &str) -> Option<Result<TrainEvaluator, hnas_eval::EvalError>> {
    name.strip_prefix("train:").map(TrainEvaluator::parse)
}
