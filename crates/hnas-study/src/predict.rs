//! How well predictors rank networks they have not seen: the measurement behind
//! `hnas predict`. Networks are drawn at random (distinct by canonical hash) and evaluated by
//! any evaluator; each model fits on N of them and ranks a held-out set, over many seeds.
//! Also: fitting a predictor on a study's trials and ranking candidates nobody evaluated.

use crate::Error;
use hnas_eval::Evaluator;
use hnas_search::predict::{kendall_tau, spearman, Encoder, Features, ModelKind, Predictor};
use hnas_search::{trial_rng, Forms};
use hnas_space::{Candidate, Space};
use hnas_store::{TrialRecord, TrialState};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// Where numeric features (free statistics such as parameters, FLOPs or zero-cost proxies)
/// come from: an evaluator, and which of its metrics to read (all, sorted by name, when
/// empty).
#[derive(Clone)]
pub struct FeatureSource {
    pub evaluator: Arc<dyn Evaluator>,
    pub metrics: Vec<String>,
    /// Features already computed, by candidate: every seed of a benchmark reads the same.
    pub cache: Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<f64>>>>,
}

impl FeatureSource {
    /// The numeric features of `c`, in the order of `metrics`; a metric the evaluator did not
    /// give is NaN (a predictor reads it as the mean).
    pub fn features(&self, space: &Space, c: &Candidate) -> Result<Vec<f64>, String> {
        let key = space.print(c);
        if let Some(v) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(v.clone());
        }
        let v = self.compute(space, c)?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, v.clone());
        Ok(v)
    }

    fn compute(&self, space: &Space, c: &Candidate) -> Result<Vec<f64>, String> {
        let m = self
            .evaluator
            .evaluate(space, c, None)
            .map_err(|e| e.to_string())?;
        Ok(self
            .names()
            .iter()
            .map(|k| m.get(k).copied().unwrap_or(f64::NAN))
            .collect())
    }

    /// The metrics read, in feature order.
    pub fn names(&self) -> Vec<String> {
        if self.metrics.is_empty() {
            let mut all = self.evaluator.metrics();
            all.sort();
            all
        } else {
            self.metrics.clone()
        }
    }
}

/// A predictor benchmark.
#[derive(Clone)]
pub struct PredictConfig {
    pub models: Vec<ModelKind>,
    /// Training-set sizes.
    pub train: Vec<usize>,
    /// Held-out networks ranked per seed.
    pub test: usize,
    pub seeds: u64,
    pub first_seed: u64,
    /// The metric predicted.
    pub metric: String,
    pub fidelity: Option<f64>,
    pub encoder: Encoder,
    pub features: Option<FeatureSource>,
    /// Use every form of the space (at most [`Forms::LIMIT`]) instead of drawing distinct
    /// networks: how published proxy figures on NAS-Bench-201 count its 15,625 cells.
    pub every_form: bool,
    /// Rank these candidates (every one, by its features) instead of drawing.
    pub candidates: Option<Vec<Candidate>>,
}

impl PredictConfig {
    /// Whether the networks are a fixed list (every form, or given) ranked as they are.
    pub fn listed(&self) -> bool {
        self.every_form || self.candidates.is_some()
    }
}

/// One model at one training-set size: per-seed τ and ρ on the held-out networks.
#[derive(Debug, Clone)]
pub struct PredictRow {
    /// A model's name, or `feature:NAME` for a numeric feature ranked as it is.
    pub model: String,
    pub train: usize,
    pub tau: Vec<f64>,
    pub rho: Vec<f64>,
    /// Mean seconds to fit and predict, per seed.
    pub seconds: f64,
}

/// Mean and standard error.
pub fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (m, 0.0);
    }
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// Distinct networks of `space` drawn with `seed` (or, with `cfg.every_form`, every form of
/// a small space in enumeration order), each with its features and value of `metric`;
/// networks whose evaluation fails or lacks the metric are skipped. Evaluations run in
/// parallel. Gives up after `want * 20` draws (a small space) and returns what it has.
pub fn draw_labelled(
    space: &Space,
    evaluator: &dyn Evaluator,
    cfg: &PredictConfig,
    seed: u64,
    want: usize,
) -> Result<Vec<Labelled>, Error> {
    let forms = Forms::default();
    if cfg.every_form && space.size() > Forms::LIMIT.into() {
        return Err(Error::Settings(format!(
            "the space has {} candidates; every form is read only up to {}",
            space.size(),
            Forms::LIMIT
        )));
    }
    let mut every: Option<std::vec::IntoIter<Candidate>> = if let Some(list) = &cfg.candidates {
        // A seeded shuffle: each seed splits the list into other training and test sets.
        let mut list = list.clone();
        let mut rng = trial_rng(seed, u64::MAX - 5);
        list.shuffle(&mut rng);
        Some(list.into_iter())
    } else if cfg.every_form {
        let all: Vec<Candidate> = space
            .enumerate()
            .map_err(|e| Error::Candidate(e.to_string()))?
            .collect();
        Some(all.into_iter())
    } else {
        None
    };
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(want.min(1 << 16));
    let mut draws = 0u64;
    let mut rng = trial_rng(seed, u64::MAX - 7);
    let mut first_error: Option<String> = None;
    loop {
        let need = want - out.len();
        let mut batch = Vec::with_capacity(need.min(1 << 16));
        while batch.len() < need {
            let c = match every.as_mut() {
                Some(it) => match it.next() {
                    Some(c) => c,
                    None => break,
                },
                None => {
                    if draws >= (want as u64) * 20 {
                        break;
                    }
                    draws += 1;
                    let c = space.sample(&mut rng, space.search_mode());
                    if !seen.insert(space.canonical_key(&c)) {
                        continue;
                    }
                    c
                }
            };
            let key = space.canonical_key(&c);
            let bits = cfg
                .encoder
                .encode(space, forms_or_self(&forms, space, &c, key, cfg.every_form));
            batch.push((c, bits));
        }
        if batch.is_empty() {
            break;
        }
        let labelled: Vec<Result<Option<Labelled>, String>> = batch
            .into_par_iter()
            .map(|(c, bits)| {
                let y = match evaluator.evaluate(space, &c, cfg.fidelity) {
                    Ok(m) => m.get(&cfg.metric).copied(),
                    Err(e) => return Err(e.to_string()),
                };
                let Some(y) = y.filter(|v| v.is_finite()) else {
                    return Ok(None);
                };
                let mut f = Features::bits(bits);
                if let Some(src) = &cfg.features {
                    f.dense = src.features(space, &c)?;
                }
                Ok(Some((c, f, y)))
            })
            .collect();
        for r in labelled {
            match r {
                Ok(Some(v)) => out.push(v),
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if out.len() >= want {
            break;
        }
    }
    if out.is_empty() {
        return Err(Error::Evaluator(hnas_eval::EvalError::Fatal(
            match first_error {
                Some(e) => format!("no network could be evaluated; the first error: {e}"),
                None => format!(
                    "no evaluated network has the metric '{}'; expected one of: {}",
                    cfg.metric,
                    evaluator.metrics().join(", ")
                ),
            },
        )));
    }
    Ok(out)
}

/// A network with its features and the value of the metric.
type Labelled = (Candidate, Features, f64);

/// The form a network is encoded by: one per network, so that isomorphic cells share an
/// encoding; each form itself when every form is asked for.
fn forms_or_self<'a>(
    forms: &'a Forms,
    space: &Space,
    c: &'a Candidate,
    key: u64,
    every_form: bool,
) -> &'a Candidate {
    if every_form {
        c
    } else {
        forms.representative(space, c, key)
    }
}

/// Runs the benchmark: for each seed, `test` held-out networks and a training pool as large
/// as the largest size; every model fits on the first N of the pool.
pub fn run_predict_benchmark(
    space: &Space,
    evaluator: Arc<dyn Evaluator>,
    cfg: &PredictConfig,
) -> Result<Vec<PredictRow>, Error> {
    let largest = cfg.train.iter().copied().max().unwrap_or(0);
    let seeds: Vec<u64> = (cfg.first_seed..cfg.first_seed + cfg.seeds).collect();
    type SeedResult = Vec<(f64, f64, f64)>;
    let per_seed: Vec<Result<SeedResult, Error>> = seeds
        .par_iter()
        .map(|&seed| {
            let data = draw_labelled(space, evaluator.as_ref(), cfg, seed, cfg.test + largest)?;
            if !cfg.every_form && data.len() < cfg.test + largest {
                return Err(Error::Evaluator(hnas_eval::EvalError::Fatal(format!(
                    "the space gave only {} distinct evaluated networks; --test {} and a training set of {largest} need {}",
                    data.len(),
                    cfg.test,
                    cfg.test + largest
                ))));
            }
            let (test, pool) = data.split_at(cfg.test.min(data.len()));
            let test_x: Vec<Features> = test.iter().map(|d| d.1.clone()).collect();
            let test_y: Vec<f64> = test.iter().map(|d| d.2).collect();
            let mut out = Vec::new();
            for &kind in &cfg.models {
                for &n in &cfg.train {
                    let start = Instant::now();
                    let xs: Vec<Features> = pool[..n].iter().map(|d| d.1.clone()).collect();
                    let ys: Vec<f64> = pool[..n].iter().map(|d| d.2).collect();
                    let mut m = kind.build(seed);
                    m.fit(&xs, &ys);
                    let p: Vec<f64> = test_x.iter().map(|x| m.predict(x).mean).collect();
                    out.push((
                        kendall_tau(&p, &test_y),
                        spearman(&p, &test_y),
                        start.elapsed().as_secs_f64(),
                    ));
                }
            }
            if let Some(src) = &cfg.features {
                for j in 0..src.names().len() {
                    let start = Instant::now();
                    let (p, y): (Vec<f64>, Vec<f64>) = test
                        .iter()
                        .filter(|d| d.1.dense.get(j).is_some_and(|v| v.is_finite()))
                        .map(|d| (d.1.dense[j], d.2))
                        .unzip();
                    out.push((kendall_tau(&p, &y), spearman(&p, &y), start.elapsed().as_secs_f64()));
                }
            }
            Ok(out)
        })
        .collect();
    let mut rows = Vec::new();
    for &kind in &cfg.models {
        for &n in &cfg.train {
            rows.push(PredictRow {
                model: kind.name().to_string(),
                train: n,
                tau: Vec::new(),
                rho: Vec::new(),
                seconds: 0.0,
            });
        }
    }
    if let Some(src) = &cfg.features {
        for name in src.names() {
            rows.push(PredictRow {
                model: format!("feature:{name}"),
                train: 0,
                tau: Vec::new(),
                rho: Vec::new(),
                seconds: 0.0,
            });
        }
    }
    for r in per_seed {
        for (row, (t, s, secs)) in rows.iter_mut().zip(r?) {
            row.tau.push(t);
            row.rho.push(s);
            row.seconds += secs / cfg.seeds as f64;
        }
    }
    Ok(rows)
}

/// A predictor fitted on a study's finished trials.
pub struct FittedOnTrials {
    pub model: Box<dyn Predictor>,
    /// Trials it fitted on.
    pub fitted: usize,
    /// τ and ρ on the held-out trials, when some were held out.
    pub holdout: Option<(f64, f64)>,
    /// Canonical hashes of every network the study evaluated.
    pub known: HashSet<String>,
}

/// Fits `kind` on the completed trials of a study that have `metric`, holding out `holdout`
/// of them (drawn with `seed`) to measure the ranking first; the returned model is then
/// refitted on all of them.
pub fn fit_on_trials(
    space: &Space,
    trials: &[TrialRecord],
    metric: &str,
    kind: ModelKind,
    encoder: Encoder,
    holdout: usize,
    seed: u64,
) -> Result<FittedOnTrials, Error> {
    let mut data: Vec<(Features, f64)> = Vec::new();
    let mut known = HashSet::new();
    let mut seen = HashSet::new();
    for t in trials {
        known.insert(t.canonical_hash.clone());
        if t.state != TrialState::Complete || t.duplicate_of.is_some() {
            continue;
        }
        let Some(y) = t.metrics.get(metric).copied().filter(|v| v.is_finite()) else {
            continue;
        };
        if !seen.insert(t.canonical_hash.clone()) {
            continue;
        }
        let c = space
            .parse_candidate(&t.candidate)
            .map_err(|e| Error::Candidate(format!("trial {}: {e}", t.number)))?;
        data.push((Features::bits(encoder.encode(space, &c)), y));
    }
    if data.len() < 2 + holdout {
        return Err(Error::Settings(format!(
            "the study has {} distinct finished trials with the metric '{metric}'; fitting needs at least {}",
            data.len(),
            2 + holdout
        )));
    }
    let holdout_score = if holdout > 0 {
        // A seeded shuffle decides which trials are held out.
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng = trial_rng(seed, 0);
        order.shuffle(&mut rng);
        let (test, train) = order.split_at(holdout);
        let mut m = kind.build(seed);
        let xs: Vec<Features> = train.iter().map(|&i| data[i].0.clone()).collect();
        let ys: Vec<f64> = train.iter().map(|&i| data[i].1).collect();
        m.fit(&xs, &ys);
        let p: Vec<f64> = test.iter().map(|&i| m.predict(&data[i].0).mean).collect();
        let y: Vec<f64> = test.iter().map(|&i| data[i].1).collect();
        Some((kendall_tau(&p, &y), spearman(&p, &y)))
    } else {
        None
    };
    let mut model = kind.build(seed);
    let (xs, ys): (Vec<Features>, Vec<f64>) = data.into_iter().unzip();
    model.fit(&xs, &ys);
    Ok(FittedOnTrials {
        model,
        fitted: ys.len(),
        holdout: holdout_score,
        known,
    })
}

/// Draws up to `pool` distinct networks that the study has not evaluated and returns the
/// `top` with the highest predicted value, best first, with mean and standard deviation.
pub fn rank_unevaluated(
    space: &Space,
    fitted: &FittedOnTrials,
    encoder: Encoder,
    pool: usize,
    top: usize,
    seed: u64,
) -> Vec<(Candidate, f64, f64)> {
    let mut rng = trial_rng(seed, u64::MAX - 11);
    let mut seen = HashSet::new();
    let mut ranked = Vec::new();
    let mut draws = 0;
    while ranked.len() < pool && draws < pool * 20 {
        draws += 1;
        let c = space.sample(&mut rng, space.search_mode());
        let h = space.canonical_hash(&c);
        if fitted.known.contains(&h) || !seen.insert(h) {
            continue;
        }
        let p = fitted
            .model
            .predict(&Features::bits(encoder.encode(space, &c)));
        ranked.push((c, p.mean, p.sd));
    }
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(top);
    ranked
}
