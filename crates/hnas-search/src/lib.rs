//! # hnas-search: strategies behind one ask/tell trait
//!
//! A [`Strategy`] proposes candidates ([`Strategy::ask`]) and learns outcomes
//! ([`Strategy::tell`]). It knows nothing of how candidates are evaluated or stored: a
//! driver owns the study. Several candidates may be pending at once (asked, not yet told).
//!
//! Determinism and resume: every random decision of trial `n` comes from
//! [`trial_rng`]`(seed, n)`, so a strategy's state is a function of the sequence of asks and
//! tells. A driver resumes a study by building a fresh strategy and replaying the stored
//! asks and tells in their recorded order.
//!
//! ```
//! use hnas_search::{build, trial_rng, Outcome, StrategySpec};
//! use hnas_space::Space;
//! use std::sync::Arc;
//!
//! let space = Arc::new(Space::parse("s.hnas", "net = mlp(width = int(1, 50))").unwrap());
//! let mut rea = build(&StrategySpec::parse("rea:population=5,sample=2").unwrap(), space.clone()).unwrap();
//! for n in 0..40 {
//!     let c = rea.ask(n, &mut trial_rng(0, n), 0).unwrap();
//!     let width = space.to_json(&c)["root"]["args"]["width"].as_f64().unwrap();
//!     rea.tell(&Outcome { trial: n, candidate: &c, score: Some(width) });
//! }
//! ```

mod grid;
mod local;
mod random;
mod rea;
mod spec;

pub use grid::Grid;
pub use local::LocalSearch;
pub use random::RandomSearch;
pub use rea::RegularizedEvolution;
pub use spec::{build, StrategySpec, STRATEGIES};

use hnas_space::Candidate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The outcome of one trial as a strategy sees it.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    pub trial: u64,
    pub candidate: &'a Candidate,
    /// Higher is better; `None` for a failed trial.
    pub score: Option<f64>,
}

/// A search strategy.
pub trait Strategy: Send {
    /// The strategy's name as written in study settings.
    fn name(&self) -> &'static str;

    /// Proposes the candidate of trial `trial`, drawing randomness only from `rng`.
    /// `pending` is the number of trials asked but not yet told. `None` means the strategy
    /// has nothing left to propose (an exhausted grid).
    fn ask(&mut self, trial: u64, rng: &mut ChaCha8Rng, pending: usize) -> Option<Candidate>;

    /// Learns the outcome of a trial it was asked for.
    fn tell(&mut self, outcome: &Outcome<'_>);
}

/// The random stream of trial `trial` in a study seeded with `seed`: independent ChaCha8
/// streams, so trial `n` draws the same numbers however many workers ran before it.
pub fn trial_rng(seed: u64, trial: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(trial);
    rng
}

/// Errors building a strategy.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("unknown strategy '{0}'; expected one of: {list}", list = STRATEGIES.join(", "))]
    Unknown(String),
    #[error("strategy '{strategy}' has no parameter '{param}'; expected one of: {expected}")]
    UnknownParam {
        strategy: String,
        param: String,
        expected: String,
    },
    #[error("strategy parameter '{param}' = '{value}': {why}")]
    BadParam {
        param: String,
        value: String,
        why: String,
    },
    #[error("malformed strategy '{0}'; expected NAME or NAME:key=value,key=value")]
    Malformed(String),
    #[error("strategy '{0}' needs a finite space, but this one has continuous parameters")]
    NeedsFinite(String),
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use hnas_space::Space;
    use std::sync::Arc;

    /// A space with a known optimum: score = -(|a - 7| + |b - 3|) + bonus for op `good`.
    pub const SYNTHETIC: &str =
        "net = net(a = int(0, 15), b = int(0, 15), op = op)\nop = bad | good | ugly";

    pub fn synthetic() -> Arc<Space> {
        Arc::new(Space::parse("syn.hnas", SYNTHETIC).unwrap())
    }

    pub fn score(space: &Space, c: &Candidate) -> f64 {
        let j = space.to_json(c);
        let a = j["root"]["args"]["a"].as_f64().unwrap();
        let b = j["root"]["args"]["b"].as_f64().unwrap();
        let good = j["root"]["args"]["op"]["op"] == "good";
        -((a - 7.0).abs() + (b - 3.0).abs()) + if good { 1.0 } else { 0.0 }
    }

    /// Runs `budget` sequential trials and returns the best score and the candidates asked.
    pub fn run(s: &mut dyn Strategy, space: &Space, seed: u64, budget: u64) -> (f64, Vec<String>) {
        let mut best = f64::NEG_INFINITY;
        let mut asked = Vec::new();
        for n in 0..budget {
            let Some(c) = s.ask(n, &mut trial_rng(seed, n), 0) else {
                break;
            };
            let sc = score(space, &c);
            best = best.max(sc);
            asked.push(space.print(&c));
            s.tell(&Outcome {
                trial: n,
                candidate: &c,
                score: Some(sc),
            });
        }
        (best, asked)
    }
}
