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
//!     let c = rea.ask(n, &mut trial_rng(0, n), 0).unwrap().candidate;
//!     let width = space.to_json(&c)["root"]["args"]["width"].as_f64().unwrap();
//!     let metrics = Default::default();
//!     rea.tell(&Outcome {
//!         trial: n, candidate: &c, score: Some(width), metrics: &metrics,
//!         objectives: &[width], violation: 0.0, fidelity: None,
//!     });
//! }
//! ```

mod bananas;
mod fidelity;
mod grid;
mod local;
mod mapelites;
mod mcts;
mod nsga2;
pub mod pareto;
pub mod predict;
mod qlearn;
mod random;
mod rea;
mod spec;
mod tpe;

pub use bananas::{Acquisition, Bananas, BananasConfig};
pub use fidelity::{Schedule, Scheduler};
pub use grid::Grid;
pub use local::LocalSearch;
pub use mapelites::{Archive, Descriptor, MapElites, Source};
pub use mcts::Mcts;
pub use nsga2::{FormChoice, Nsga2};
pub use qlearn::QLearningEvolution;
pub use random::RandomSearch;
pub use rea::RegularizedEvolution;
pub use spec::{build, build_in, Context, StrategySpec, MULTI_OBJECTIVE, STRATEGIES, USES_PRIOR};
pub use tpe::Tpe;

use hnas_space::{Candidate, Space};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// A score of candidates known before any is evaluated (a zero-cost proxy, a parameter
/// count): higher is more promising. Model-based strategies start from the candidates it
/// ranks highest and learn from it. `None`: undefined for this candidate.
pub trait Prior: Send + Sync {
    fn score(&self, space: &Space, c: &Candidate) -> Option<f64>;
}

/// A shared [`Prior`], compared by identity.
#[derive(Clone)]
pub struct PriorRef(pub std::sync::Arc<dyn Prior>);

impl std::fmt::Debug for PriorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PriorRef")
    }
}

impl PartialEq for PriorRef {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Named metric values of a trial.
pub type Metrics = BTreeMap<String, f64>;

/// The outcome of one trial as a strategy sees it.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    pub trial: u64,
    pub candidate: &'a Candidate,
    /// Higher is better; `None` for a failed trial.
    pub score: Option<f64>,
    /// Every metric the evaluation returned (empty for a failure); behaviour descriptors
    /// (MAP-Elites) are read from here.
    pub metrics: &'a Metrics,
    /// Every objective of a study with several, each oriented so that higher is better
    /// (empty for a failure). A single-objective study gives just the score.
    pub objectives: &'a [f64],
    /// How far the trial breaks the study's constraints (0 when it meets them all). An
    /// infeasible trial has `score == None`: to a single-objective strategy it looks failed;
    /// NSGA-II ranks it by this.
    pub violation: f64,
    /// The fidelity the trial was evaluated at (`None`: the evaluator's default).
    pub fidelity: Option<f64>,
}

/// What a strategy proposes: a candidate, and the fidelity to evaluate it at (multi-fidelity
/// schedulers choose it; every other strategy leaves it to the study).
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    pub candidate: Candidate,
    pub fidelity: Option<f64>,
}

impl Ask {
    /// A candidate at the study's fidelity.
    pub fn new(candidate: Candidate) -> Self {
        Ask {
            candidate,
            fidelity: None,
        }
    }
}

/// A multiplicative hasher for in-process sets of candidates (SipHash's resistance to
/// crafted keys buys nothing here and costs a tenth of a model-based trial).
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64);
    }
    fn write_u8(&mut self, x: u8) {
        self.write_u64(x as u64);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FastSet<T> = std::collections::HashSet<T, std::hash::BuildHasherDefault<FxHasher>>;

/// An index drawn with probability proportional to `weights`.
pub(crate) fn pick_weighted(weights: &[f64], rng: &mut ChaCha8Rng) -> u32 {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if *w > 0.0 {
            if u < *w {
                return i as u32;
            }
            u -= w;
        }
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0) as u32
}

/// A standard normal draw (Box-Muller).
pub(crate) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A search strategy.
pub trait Strategy: Send {
    /// The strategy's name as written in study settings.
    fn name(&self) -> &'static str;

    /// Proposes the candidate of trial `trial`, drawing randomness only from `rng`.
    /// `pending` is the number of trials asked but not yet told. `None` means the strategy
    /// has nothing left to propose (an exhausted grid).
    fn ask(&mut self, trial: u64, rng: &mut ChaCha8Rng, pending: usize) -> Option<Ask>;

    /// Learns the outcome of a trial it was asked for.
    fn tell(&mut self, outcome: &Outcome<'_>);

    /// Whether its asks can be replayed: asked again with the same events and random
    /// streams, it proposes the same candidates (every built-in strategy does). A resume
    /// checks each stored trial by asking again; a strategy that cannot replay (a person,
    /// a language model) is told the stored outcomes only, and its stored trials are taken
    /// as they are.
    fn replays_asks(&self) -> bool {
        true
    }
}

/// How often a proposal is drawn again because the study already holds its network (or a
/// scheduler has already started it) before the strategy gives up and proposes it anyway.
pub(crate) const FRESH_TRIES: usize = 30;

/// A proposal and its canonical key from `draw`, drawn again (up to [`FRESH_TRIES`] draws in
/// all) while `known` holds its network.
pub(crate) fn draw_fresh(
    known: &FastSet<u64>,
    mut draw: impl FnMut() -> (Candidate, u64),
) -> (Candidate, u64) {
    let (mut c, mut k) = draw();
    for _ in 1..FRESH_TRIES {
        if !known.contains(&k) {
            break;
        }
        (c, k) = draw();
    }
    (c, k)
}

/// Every form (isomorphic cell) of every network, for spaces of at most [`Forms::LIMIT`]
/// candidates (empty for larger ones), built on first use.
///
/// A model-based strategy sees networks through the forms it happened to ask. Two uses:
/// encoding each network by one form, so that isomorphic cells, which share one outcome,
/// share one encoding instead of teaching the model noise in dead edges; and taking a
/// network's neighbours as those of all its forms.
#[derive(Default)]
pub struct Forms(std::cell::OnceCell<std::collections::HashMap<u64, Vec<Candidate>>>);

impl Forms {
    /// NAS-Bench-201 has 15,625 cells; enumerating them takes a few milliseconds.
    pub const LIMIT: u64 = 50_000;

    fn all(&self, space: &Space) -> &std::collections::HashMap<u64, Vec<Candidate>> {
        self.0
            .get_or_init(|| space.forms(Self::LIMIT).unwrap_or_default())
    }

    /// The forms of the network `key`, in enumeration order; `None` when not enumerated.
    pub fn of(&self, space: &Space, key: u64) -> Option<&[Candidate]> {
        self.all(space).get(&key).map(|v| &v[..])
    }

    /// The form that stands for the network of `c` (whose canonical key is `key`): its
    /// first in enumeration order, where dead edges hold the first operation; `c` itself in
    /// a space too large to enumerate.
    pub fn representative<'a>(
        &'a self,
        space: &Space,
        c: &'a Candidate,
        key: u64,
    ) -> &'a Candidate {
        self.of(space, key).map_or(c, |v| &v[0])
    }

    /// The forms of the network `key` that compute the most operations (see
    /// `Space::dag_operations`), in enumeration order; `None` when not enumerated.
    pub(crate) fn richest(&self, space: &Space, key: u64) -> Option<Vec<&Candidate>> {
        let forms = self.of(space, key)?;
        let ops: Vec<usize> = forms.iter().map(|f| space.dag_operations(f)).collect();
        let most = ops.iter().copied().max().unwrap_or(0);
        Some(
            forms
                .iter()
                .zip(&ops)
                .filter(|(_, &n)| n == most)
                .map(|(f, _)| f)
                .collect(),
        )
    }
}

/// First quartile - 1.5 interquartile ranges (Tukey's lower fence).
pub(crate) fn lower_fence(ys: &[f64]) -> f64 {
    let mut v = ys.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NEG_INFINITY;
    }
    let q = |f: f64| v[((n - 1) as f64 * f).round() as usize];
    q(0.25) - 1.5 * (q(0.75) - q(0.25))
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
    #[error("strategy '{0}' optimizes one objective; with several use nsga2, random or grid, or combine them into one (e.g. the MnasNet reward mnas:ACC,LAT,TARGET)")]
    SingleObjective(String),
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

    /// 4,096 cells in fewer networks: zero edges, identity edges and the order of a sum's
    /// terms make many cells the same network.
    pub fn isomorphic_cells() -> Arc<Space> {
        Arc::new(
            Space::parse(
                "iso.hnas",
                "cell = dag(nodes = 4, edge = op, zero = none, identity = skip)\n\
                 op = none | skip | conv | pool\n",
            )
            .unwrap(),
        )
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
            let Some(Ask { candidate: c, .. }) = s.ask(n, &mut trial_rng(seed, n), 0) else {
                break;
            };
            let sc = score(space, &c);
            best = best.max(sc);
            asked.push(space.print(&c));
            s.tell(&Outcome {
                trial: n,
                candidate: &c,
                score: Some(sc),
                metrics: &crate::Metrics::new(),
                objectives: &[sc],
                violation: 0.0,
                fidelity: None,
            });
        }
        (best, asked)
    }
}

#[cfg(test)]
mod forms_tests {
    use super::*;

    #[test]
    fn isomorphic_cells_get_one_encoding() {
        let space = crate::testing::isomorphic_cells();
        let forms = Forms::default();
        // The same network (conv from the input to the output) with different dead edges.
        let a = space
            .parse_candidate("dag(0>1:none,0>2:none,1>2:none,0>3:conv,1>3:none,2>3:none)")
            .unwrap();
        let b = space
            .parse_candidate("dag(0>1:pool,0>2:conv,1>2:skip,0>3:conv,1>3:none,2>3:none)")
            .unwrap();
        let e = crate::predict::MlpEnsemble::new(256, 32, 5, false);
        let encoded = |c: &Candidate| {
            e.encode(
                &space,
                forms.representative(&space, c, space.canonical_key(c)),
            )
        };
        assert_ne!(e.encode(&space, &a), e.encode(&space, &b));
        assert_eq!(encoded(&a), encoded(&b));
        // Another network keeps another encoding.
        let c = space
            .parse_candidate("dag(0>1:none,0>2:none,1>2:none,0>3:pool,1>3:none,2>3:none)")
            .unwrap();
        assert_ne!(encoded(&a), encoded(&c));
        // Above the limit nothing is enumerated: each form stands for itself.
        let big = Space::parse(
            "big.hnas",
            "cell = dag(nodes = 6, edge = op, zero = none, identity = skip)\n\
             op = none | skip | conv | pool\n",
        )
        .unwrap();
        let x = big.sample(&mut trial_rng(0, 0), hnas_space::SampleMode::Uniform);
        let forms = Forms::default();
        assert!(std::ptr::eq(
            forms.representative(&big, &x, big.canonical_key(&x)),
            &x
        ));
        assert!(forms.of(&big, big.canonical_key(&x)).is_none());
    }
}

#[cfg(test)]
mod fence_tests {
    #[test]
    fn the_lower_fence_ignores_one_collapsed_outlier() {
        let ys: Vec<f64> = (1..=9).map(f64::from).collect();
        assert_eq!(super::lower_fence(&ys), 3.0 - 1.5 * 4.0);
        let mut with = ys.clone();
        with[0] = -1000.0;
        assert_eq!(super::lower_fence(&with), -3.0);
        assert_eq!(super::lower_fence(&[]), f64::NEG_INFINITY);
    }
}
