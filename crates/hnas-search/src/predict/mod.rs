//! Performance predictors: models that learn a score from the trials seen so far and predict
//! it, with an uncertainty, for candidates not yet evaluated.
//!
//! A candidate becomes [`Features`] through an [`Encoder`]: every decision of its derivation
//! hashed with its choice into one of `dims` binary features (so *every* space has an
//! encoding; for a DAG cell it is the one-hot adjacency encoding), optionally with the path
//! encoding of its DAG cells, plus any numbers the caller adds (`dense`: parameter count,
//! FLOPs, zero-cost proxies). A [`Predictor`] fits on features and scores and predicts a
//! [`Prediction`]. Models: [`MlpEnsemble`] (BANANAS' ensemble of small MLPs), [`Gbt`]
//! (bagged gradient-boosted regression trees) and [`Gp`] (a Gaussian process with an RBF
//! kernel, its length scale and noise chosen by marginal likelihood). [`kendall_tau`] and
//! [`spearman`] measure a ranking.
//!
//! ```
//! use hnas_search::predict::{kendall_tau, Encoder, Features, ModelKind};
//! use hnas_space::{SampleMode, Space};
//! use rand::SeedableRng;
//!
//! let space = Space::parse("s.hnas", "net = pair(a = p, b = q)\np = x | y | z\nq = u | v | w").unwrap();
//! let enc = Encoder::default();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! // A score with a main effect (z) and an interaction (y with v).
//! let mut data = |n| -> (Vec<Features>, Vec<f64>) {
//!     (0..n)
//!         .map(|_| {
//!             let c = space.sample(&mut rng, SampleMode::Uniform);
//!             let s = space.print(&c);
//!             let y = 2.0 * s.contains('z') as u8 as f64
//!                 + (s.contains('y') && s.contains('v')) as u8 as f64;
//!             (Features::bits(enc.encode(&space, &c)), y)
//!         })
//!         .unzip()
//! };
//! let (xs, ys) = data(40);
//! let (test_x, test_y) = data(30);
//! let mut model = ModelKind::Gbt.build(0);
//! model.fit(&xs, &ys);
//! let predicted: Vec<f64> = test_x.iter().map(|x| model.predict(x).mean).collect();
//! assert!(kendall_tau(&predicted, &test_y) > 0.8);
//! ```

mod gbt;
mod gp;
pub(crate) mod mlp;
mod rank;
mod ranked;

pub use gbt::Gbt;
pub use gp::Gp;
pub use mlp::MlpEnsemble;
pub use rank::{kendall_tau, ranks, spearman};
pub use ranked::{probit, Ranked};

use hnas_space::{Candidate, Space};
use std::collections::HashMap;

/// What a predictor reads of one candidate: sorted, distinct indices of its binary features
/// and any numeric features (the same number of them, in the same order, for every candidate
/// of one fit).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    pub bits: Vec<u32>,
    pub dense: Vec<f64>,
}

impl Features {
    pub fn bits(bits: Vec<u32>) -> Self {
        Features {
            bits,
            dense: Vec::new(),
        }
    }

    pub fn with_dense(mut self, dense: Vec<f64>) -> Self {
        self.dense = dense;
        self
    }
}

/// A predicted score: its mean and standard deviation, in the units of the scores fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub mean: f64,
    pub sd: f64,
}

impl Prediction {
    /// What an unfitted model says: nothing.
    pub fn unknown() -> Self {
        Prediction {
            mean: 0.0,
            sd: f64::INFINITY,
        }
    }
}

/// A model of a score over features.
pub trait Predictor: Send {
    /// Its name as written in a model spec (`mlp`, `gbt`, `gp`).
    fn name(&self) -> &'static str;

    /// Fits on these examples, replacing any earlier fit. Deterministic.
    fn fit(&mut self, xs: &[Features], ys: &[f64]);

    /// The predicted score of `x` with its uncertainty.
    fn predict(&self, x: &Features) -> Prediction;
}

/// How a candidate becomes binary features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoder {
    /// Width of the hashed encoding.
    pub dims: usize,
    /// Add the path encoding of DAG cells (BANANAS' encoding: one feature per input-to-output
    /// sequence of operations).
    pub paths: bool,
    /// Add the Weisfeiler-Lehman features of DAG cells (`Space::dag_wl`, this many rounds;
    /// 0: none): with a GP, the WL kernel of NASBOWL.
    pub wl: usize,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            dims: 512,
            paths: false,
            wl: 0,
        }
    }
}

impl Encoder {
    /// The features of `c`: each decision of its derivation (the rule site and the choice
    /// made there) hashed into `dims` buckets, sorted and distinct.
    pub fn encode(&self, space: &Space, c: &Candidate) -> Vec<u32> {
        let dims = self.dims.max(1);
        let mut f: Vec<u32> = space
            .decisions(c)
            .iter()
            .map(|d| {
                ((d.key ^ (d.choice as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
                    .wrapping_mul(0xff51_afd7_ed55_8ccd)
                    >> 32) as u32
                    % dims as u32
            })
            .collect();
        if self.paths {
            for p in space.dag_paths(c) {
                f.push((xxhash_rust::xxh3::xxh3_64(p.as_bytes()) % dims as u64) as u32);
            }
        }
        if self.wl > 0 {
            for p in space.dag_wl(c, self.wl) {
                f.push((xxhash_rust::xxh3::xxh3_64(p.as_bytes()) % dims as u64) as u32);
            }
        }
        f.sort_unstable();
        f.dedup();
        f
    }
}

/// The predictor families, by the name a spec uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Mlp,
    Gbt,
    Gp,
}

/// Model names for messages.
pub const MODELS: &[&str] = &["mlp", "gbt", "gp"];

impl ModelKind {
    pub fn parse(name: &str) -> Option<ModelKind> {
        match name {
            "mlp" => Some(ModelKind::Mlp),
            "gbt" => Some(ModelKind::Gbt),
            "gp" => Some(ModelKind::Gp),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Gbt => "gbt",
            ModelKind::Gp => "gp",
        }
    }

    /// A fresh model with its default settings, fitted on the normal scores of the ranks
    /// ([`Ranked`]); `seed` fixes its random draws.
    pub fn build(self, seed: u64) -> Box<dyn Predictor> {
        Box::new(Ranked::new(self.build_raw(seed)))
    }

    /// A fresh model fitted on the scores themselves.
    pub fn build_raw(self, seed: u64) -> Box<dyn Predictor> {
        match self {
            ModelKind::Mlp => {
                Box::new(MlpEnsemble::new(Encoder::default().dims, 32, 5, false).with_layers(2))
            }
            ModelKind::Gbt => Box::new(Gbt::new(seed)),
            ModelKind::Gp => Box::new(Gp::new()),
        }
    }
}

/// A dense design matrix built from features: one column per binary feature seen in the fit
/// (in the order first seen) and one per numeric feature, the numeric ones standardized.
#[derive(Debug, Clone, Default)]
pub(crate) struct Columns {
    bit_col: HashMap<u32, usize>,
    dense: usize,
    mean: Vec<f64>,
    sd: Vec<f64>,
}

impl Columns {
    pub(crate) fn fit(xs: &[Features]) -> Columns {
        let mut bit_col = HashMap::new();
        for x in xs {
            for &b in &x.bits {
                let n = bit_col.len();
                bit_col.entry(b).or_insert(n);
            }
        }
        let dense = xs.iter().map(|x| x.dense.len()).max().unwrap_or(0);
        let mut mean = vec![0.0; dense];
        let mut sd = vec![1.0; dense];
        for j in 0..dense {
            let v: Vec<f64> = xs
                .iter()
                .filter_map(|x| x.dense.get(j).copied())
                .filter(|v| v.is_finite())
                .collect();
            if v.is_empty() {
                continue;
            }
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
            mean[j] = m;
            sd[j] = if s > 1e-12 { s } else { 1.0 };
        }
        Columns {
            bit_col,
            dense,
            mean,
            sd,
        }
    }

    pub(crate) fn width(&self) -> usize {
        self.bit_col.len() + self.dense
    }

    /// How many columns hold binary features (they come first).
    pub(crate) fn bits(&self) -> usize {
        self.bit_col.len()
    }

    /// Whether column `j` holds a binary feature.
    pub(crate) fn is_bit(&self, j: usize) -> bool {
        j < self.bit_col.len()
    }

    /// `x` as a row. A numeric feature that is missing or not finite reads as the mean.
    pub(crate) fn row(&self, x: &Features) -> Vec<f64> {
        let nb = self.bit_col.len();
        let mut r = vec![0.0; self.width()];
        for b in &x.bits {
            if let Some(&j) = self.bit_col.get(b) {
                r[j] = 1.0;
            }
        }
        for j in 0..self.dense {
            let v = x.dense.get(j).copied().unwrap_or(f64::NAN);
            r[nb + j] = if v.is_finite() {
                (v - self.mean[j]) / self.sd[j]
            } else {
                0.0
            };
        }
        r
    }
}

/// Mean and standard deviation of scores (the standard deviation at least 1e-9).
pub(crate) fn standardize(ys: &[f64]) -> (f64, f64) {
    let n = ys.len().max(1) as f64;
    let m = ys.iter().sum::<f64>() / n;
    let s = (ys.iter().map(|y| (y - m).powi(2)).sum::<f64>() / n).sqrt();
    (m, s.max(1e-9))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Scores with an interaction (a and b together) and a numeric feature, on 4 decisions.
    fn data(n: usize, seed: u64) -> (Vec<Features>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for _ in 0..n {
            let d: Vec<u32> = (0..4).map(|k| k * 10 + rng.random_range(0..4)).collect();
            let z: f64 = rng.random::<f64>();
            let y = d[0] as f64 % 10.0
                + 2.0 * ((d[1] % 10 == 3 && d[2] % 10 == 1) as u8 as f64)
                + 3.0 * z;
            xs.push(Features::bits(d).with_dense(vec![z]));
            ys.push(y);
        }
        (xs, ys)
    }

    #[test]
    fn every_model_ranks_unseen_examples() {
        let (xs, ys) = data(200, 1);
        let (tx, ty) = data(300, 2);
        for kind in [ModelKind::Gbt, ModelKind::Gp] {
            let mut m = kind.build(0);
            m.fit(&xs, &ys);
            let p: Vec<f64> = tx.iter().map(|x| m.predict(x).mean).collect();
            let tau = kendall_tau(&p, &ty);
            assert!(tau > 0.75, "{}: tau {tau}", kind.name());
        }
        // The MLP reads the decisions only, not the numeric feature.
        let xs_bits: Vec<Features> = xs.iter().map(|x| Features::bits(x.bits.clone())).collect();
        let mut m = ModelKind::Mlp.build(0);
        m.fit(&xs_bits, &ys);
        let p: Vec<f64> = tx.iter().map(|x| m.predict(x).mean).collect();
        let tau = kendall_tau(&p, &ty);
        assert!(tau > 0.4, "mlp: tau {tau}");
    }

    #[test]
    fn fits_are_deterministic_and_uncertain_far_from_the_data() {
        let (xs, ys) = data(60, 3);
        for kind in [ModelKind::Mlp, ModelKind::Gbt, ModelKind::Gp] {
            let mut a = kind.build(7);
            let mut b = kind.build(7);
            a.fit(&xs, &ys);
            b.fit(&xs, &ys);
            let probe = Features::bits(vec![1, 12, 21, 33]).with_dense(vec![0.5]);
            assert_eq!(a.predict(&probe), b.predict(&probe), "{}", kind.name());
            assert!(a.predict(&probe).sd.is_finite());
        }
        // A GP is sure where it has seen the data and unsure on features it never saw.
        let mut gp = ModelKind::Gp.build(0);
        gp.fit(&xs, &ys);
        let seen = gp.predict(&xs[0]).sd;
        let unseen = gp
            .predict(&Features::bits(vec![100, 200, 300, 400]).with_dense(vec![9.0]))
            .sd;
        assert!(unseen > 2.0 * seen, "{seen} vs {unseen}");
    }

    #[test]
    fn an_unfitted_model_knows_nothing() {
        for kind in [ModelKind::Mlp, ModelKind::Gbt, ModelKind::Gp] {
            let m = kind.build(0);
            assert!(m.predict(&Features::default()).sd.is_infinite());
        }
    }

    #[test]
    fn model_names_round_trip() {
        for name in MODELS {
            assert_eq!(ModelKind::parse(name).unwrap().name(), *name);
        }
        assert!(ModelKind::parse("xgb").is_none());
    }
}
