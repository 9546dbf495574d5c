//! # hnas-space: the hnas search-space language
//!
//! A search space is a grammar written in a `.hnas` file (see `docs/space-language.md`).
//! This crate parses and checks it, counts it exactly, samples it (uniformly over all
//! architectures, or by the probabilities written on alternatives), enumerates it, mutates
//! and crosses over its candidates while keeping them in the space, and gives every
//! candidate a one-line string form, a JSON form and stable hashes.
//!
//! ```
//! use hnas_space::{SampleMode, Space};
//! use rand::SeedableRng;
//!
//! let text = "
//! cell = dag(nodes = 4, edge = op, zero = none, identity = skip_connect)
//! op = none | skip_connect | nor_conv_1x1 | nor_conv_3x3 | avg_pool_3x3
//! ";
//! let space = Space::parse("nb201.hnas", text).unwrap();
//! assert_eq!(space.size().to_string(), "15625");
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let c = space.sample(&mut rng, SampleMode::Uniform);
//! let line = space.print(&c);
//! assert_eq!(space.parse_candidate(&line).unwrap(), c);
//! let child = space.mutate(&c, &mut rng);
//! assert!(space.is_member(&child) && child != c);
//! ```

mod candidate;
mod canon;
mod check;
mod constrain;
mod decide;
mod diag;
mod enumerate;
mod form;
mod grammar;
mod lexer;
mod mutate;
mod nb201;
mod parse;
mod space;

pub use candidate::{Candidate, Edge, Node, Path};
pub use canon::fingerprint_text;
pub use decide::{Chooser, Decision, DecisionKind, Point, FLOAT_BINS, VALUE_BINS};
pub use diag::{did_you_mean, Diagnostic, Diagnostics, MAX_DIAGNOSTICS};
pub use form::CANDIDATE_SOURCE;
pub use grammar::{
    Alt, AltKind, Arg, DagOutput, DagSpec, Domain, Expr, Grammar, Rule, RuleId, Value, MAX_NESTING,
};
pub use mutate::{Site, SiteKind};
pub use num_bigint::BigUint;
pub use parse::RESERVED;
pub use space::{SampleMode, Space};

/// Errors of space operations other than parsing a grammar.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .0.render())]
    Space(Diagnostics),
    #[error("the space has continuous parameters (float or logfloat), so it cannot be enumerated or ranked")]
    Continuous,
    #[error("index {0} is out of range; the space has {1} members")]
    OutOfRange(String, String),
    #[error("not a member of the space: {0}")]
    NotMember(String),
    #[error("not a NAS-Bench-201 cell: {0}")]
    Nb201(String),
}
