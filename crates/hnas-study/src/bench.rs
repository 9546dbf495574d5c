//! The benchmark harness: several strategies, many seeds, regret (or hypervolume) curves.
//!
//! Every (strategy, seed) pair is an independent in-memory study; pairs run in parallel on
//! rayon's pool and the results do not depend on the number of threads.

use crate::{Dedup, Error, Goals, Settings, Study};
use hnas_eval::Evaluator;
use hnas_search::pareto::{add_non_dominated, hypervolume};
use hnas_space::{BigUint, Space};
use hnas_store::{MemoryStore, TrialRecord};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// Spaces up to this size are enumerated to find the true Pareto front.
const ENUMERATE_FRONT_UP_TO: u64 = 1_000_000;

/// What to compare.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub space_file: String,
    pub space: String,
    pub strategies: Vec<String>,
    /// One objective, or several (the curves are then hypervolumes).
    pub objectives: Vec<String>,
    pub constraints: Vec<String>,
    /// The metric regret is measured on (e.g. `test_200`), always maximized. Single
    /// objective only.
    pub regret_metric: String,
    /// The hypervolume's reference point in the objectives' own units (several objectives).
    pub reference: Vec<f64>,
    pub seeds: u64,
    /// The first seed: runs use seeds `first_seed..first_seed + seeds` (held-out seeds for
    /// checking a setting chosen on others).
    pub first_seed: u64,
    pub budget: u64,
    /// A cost limit per run besides `budget` (curves then also read against cost).
    pub max_cost: Option<f64>,
    /// The study's fidelity for strategies that do not choose one.
    pub fidelity: Option<f64>,
    pub dedup: Dedup,
    /// A prior for model-based strategies ([`Settings::prior`]).
    pub prior: Option<String>,
    /// Trials each run evaluates at once ([`Study::set_jobs`]; 1: one after another).
    pub jobs: usize,
}

/// One strategy's results over all seeds.
#[derive(Debug, Clone)]
pub struct StrategyCurves {
    pub strategy: String,
    /// `regret[seed][t]`: after `t + 1` counted trials, the incumbent's regret, or its value
    /// of the metric when no optimum is known (see [`BenchResult::optimum`]); with several
    /// objectives, the hypervolume (as a fraction of the true front's when it is known).
    pub regret: Vec<Vec<f64>>,
    /// `cost[seed][t]`: the cost spent after `t + 1` counted trials.
    pub cost: Vec<Vec<f64>>,
    /// Total wall time of all seeds' studies, seconds (summed over threads).
    pub seconds: f64,
    pub trials: u64,
    /// Per seed: distinct networks (by canonical hash) per 100 counted trials.
    pub distinct: Vec<f64>,
    /// Per seed: trials recorded per 100 counted ones (skipped duplicates included): what
    /// `--dedup skip` spent on proposals of known networks.
    pub asked: Vec<f64>,
}

fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if n > 1.0 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, (var / n).sqrt())
}

impl StrategyCurves {
    /// Mean and standard error after `t` counted trials (1-based).
    pub fn at(&self, t: usize) -> (f64, f64) {
        mean_se(&self.seeds_at(t))
    }

    /// Each seed's value after `t` counted trials (its last one where the run was shorter).
    pub fn seeds_at(&self, t: usize) -> Vec<f64> {
        self.regret
            .iter()
            .map(|r| r[(t - 1).min(r.len() - 1)])
            .collect()
    }

    /// Mean and standard error once `cost` is spent (see [`Self::seeds_at_cost`]).
    pub fn at_cost(&self, cost: f64) -> (f64, f64) {
        mean_se(&self.seeds_at_cost(cost))
    }

    /// Each seed's value after its last trial that ends within `cost` (NaN for a run with
    /// no such trial).
    pub fn seeds_at_cost(&self, cost: f64) -> Vec<f64> {
        self.regret
            .iter()
            .zip(&self.cost)
            .map(|(r, c)| {
                let n = c.partition_point(|&x| x <= cost);
                if n == 0 {
                    f64::NAN
                } else {
                    r[n - 1]
                }
            })
            .collect()
    }
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// With one objective: the best value of the regret metric over the whole benchmark,
    /// when the evaluator knows it: curves are then regrets (lower is better); otherwise
    /// they are the incumbent's value of the metric itself (higher is better). With
    /// several: the true front's hypervolume, when the space could be enumerated; curves
    /// are then fractions of it.
    pub optimum: Option<f64>,
    /// Several objectives: the true front's size, when known.
    pub front_size: Option<usize>,
    pub curves: Vec<StrategyCurves>,
}

/// Runs every strategy on `seeds` seeds (from `first_seed`) with the given evaluator.
pub fn run_benchmark(
    cfg: &BenchConfig,
    evaluator: Arc<dyn Evaluator>,
) -> Result<BenchResult, Error> {
    let probe = Settings {
        space_file: cfg.space_file.clone(),
        space: cfg.space.clone(),
        strategy: "random".into(),
        evaluator: evaluator.name().to_string(),
        objectives: cfg.objectives.clone(),
        constraints: cfg.constraints.clone(),
        report: vec![],
        seed: 0,
        budget: 0,
        max_cost: None,
        fidelity: cfg.fidelity,
        prior: cfg.prior.clone(),
        dedup: cfg.dedup,
    };
    let goals = Goals::parse(&probe)?;
    let space = Space::parse(&cfg.space_file, &cfg.space)?;
    let multi = goals.objectives.len() > 1;
    let reference: Vec<f64> = if multi {
        if cfg.reference.len() != goals.objectives.len() {
            return Err(Error::Settings(format!(
                "a hypervolume needs a reference point with one value per objective ({} given, {} objectives)",
                cfg.reference.len(),
                goals.objectives.len()
            )));
        }
        goals
            .objectives
            .iter()
            .zip(&cfg.reference)
            .map(|(o, r)| o.score(*r))
            .collect()
    } else {
        Vec::new()
    };
    let (optimum, front_size) = if multi {
        match true_front(&space, &*evaluator, &goals, cfg.fidelity, &reference)? {
            Some((hv, n)) => (Some(hv), Some(n)),
            None => (None, None),
        }
    } else {
        (evaluator.optimum(&cfg.regret_metric, true), None)
    };
    let mut curves = Vec::new();
    for strategy in &cfg.strategies {
        type Run = (Vec<f64>, Vec<f64>, f64, (f64, f64));
        let runs: Vec<Result<Run, Error>> = (cfg.first_seed..cfg.first_seed + cfg.seeds)
            .into_par_iter()
            .map(|seed| {
                let settings = Settings {
                    strategy: strategy.clone(),
                    report: if multi {
                        vec![]
                    } else {
                        vec![cfg.regret_metric.clone()]
                    },
                    seed,
                    budget: cfg.budget,
                    max_cost: cfg.max_cost,
                    // Only the strategies that read a prior get one; the rest run as they are.
                    prior: cfg.prior.clone().filter(|_| {
                        let name = strategy.split(':').next().unwrap_or_default();
                        hnas_search::USES_PRIOR.contains(&name)
                    }),
                    ..probe.clone()
                };
                let start = Instant::now();
                let mut study =
                    Study::open(settings, evaluator.clone(), Box::new(MemoryStore::new()))?;
                study.set_jobs(cfg.jobs);
                let mut curve = Vec::with_capacity(cfg.budget as usize);
                let mut costs = Vec::with_capacity(cfg.budget as usize);
                let mut spent = 0.0;
                // Regret metric of the incumbent, looked up at the default fidelity when the
                // incumbent's own evaluation lacks it (tabular evaluators answer for free).
                let mut lookup: HashMap<u64, f64> = HashMap::new();
                let mut front: Vec<Vec<f64>> = Vec::new();
                let mut failure: Option<Error> = None;
                let mut networks: HashSet<String> = HashSet::new();
                let mut proposals = 0u64;
                study.run(&mut |ev| {
                    if let crate::Event::Trial {
                        trial,
                        best,
                        counted,
                        ..
                    } = ev
                    {
                        spent += trial.cost;
                        if curve.len() < cfg.budget as usize {
                            proposals += 1;
                            if trial.counted {
                                networks.insert(trial.canonical_hash.clone());
                            }
                        }
                        if multi {
                            if let Some(v) = goals
                                .vector(trial)
                                .filter(|_| goals.violation(trial) == 0.0)
                            {
                                add_non_dominated(&mut front, v, |p| p);
                            }
                        }
                        if trial.counted && curve.len() < counted as usize {
                            let value = if multi {
                                let hv = hypervolume(&front, &reference);
                                optimum.map_or(hv, |o| hv / o)
                            } else {
                                match best
                                    .map(|b| regret_value(b, cfg, &space, &*evaluator, &mut lookup))
                                {
                                    Some(Ok(r)) => optimum.map_or(r, |o| o - r),
                                    Some(Err(e)) => {
                                        failure.get_or_insert(e);
                                        f64::NAN
                                    }
                                    None => f64::NAN,
                                }
                            };
                            curve.push(value);
                            costs.push(spent);
                        }
                    }
                })?;
                if let Some(e) = failure {
                    return Err(e);
                }
                let n = curve.len().max(1) as f64;
                let distinct = (
                    100.0 * networks.len() as f64 / n,
                    100.0 * proposals as f64 / n,
                );
                Ok((curve, costs, start.elapsed().as_secs_f64(), distinct))
            })
            .collect();
        let mut regret = Vec::new();
        let mut cost = Vec::new();
        let mut seconds = 0.0;
        let mut distinct = Vec::new();
        let mut asked = Vec::new();
        for r in runs {
            let (c, k, s, (d, a)) = r?;
            regret.push(c);
            cost.push(k);
            seconds += s;
            distinct.push(d);
            asked.push(a);
        }
        let trials = regret.iter().map(|c| c.len() as u64).sum();
        curves.push(StrategyCurves {
            strategy: strategy.clone(),
            regret,
            cost,
            seconds,
            trials,
            distinct,
            asked,
        });
    }
    Ok(BenchResult {
        optimum,
        front_size,
        curves,
    })
}

/// The regret metric of a trial: its own, or the evaluator's answer at the default fidelity.
fn regret_value(
    t: &TrialRecord,
    cfg: &BenchConfig,
    space: &Space,
    evaluator: &dyn Evaluator,
    lookup: &mut HashMap<u64, f64>,
) -> Result<f64, Error> {
    if let Some(v) = t.metrics.get(&cfg.regret_metric) {
        return Ok(*v);
    }
    if let Some(v) = lookup.get(&t.number) {
        return Ok(*v);
    }
    let c = space
        .parse_candidate(&t.candidate)
        .map_err(|d| Error::Candidate(d.to_string()))?;
    let m = evaluator.evaluate(space, &c, None)?;
    let v = *m.get(&cfg.regret_metric).ok_or_else(|| {
        Error::Settings(format!(
            "the evaluator gives no '{}' to measure regret on",
            cfg.regret_metric
        ))
    })?;
    lookup.insert(t.number, v);
    Ok(v)
}

/// The hypervolume and size of the true Pareto front, by evaluating every candidate of a
/// small enough space (`None` for larger ones).
fn true_front(
    space: &Space,
    evaluator: &dyn Evaluator,
    goals: &Goals,
    fidelity: Option<f64>,
    reference: &[f64],
) -> Result<Option<(f64, usize)>, Error> {
    if space.is_continuous() || space.size() > BigUint::from(ENUMERATE_FRONT_UP_TO) {
        return Ok(None);
    }
    let mut front = Vec::new();
    let candidates = space
        .enumerate()
        .map_err(|e| Error::Settings(e.to_string()))?;
    for c in candidates {
        // A candidate whose evaluation fails (or panics) has no place on the front.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            evaluator.evaluate(space, &c, fidelity)
        }));
        let metrics = match result {
            Ok(Ok(m)) => m,
            Ok(Err(e @ hnas_eval::EvalError::Fatal(_))) => return Err(Error::Evaluator(e)),
            Ok(Err(hnas_eval::EvalError::Failed(_) | hnas_eval::EvalError::Stopped { .. }))
            | Err(_) => continue,
        };
        if goals.violation_of(&metrics) > 0.0 {
            continue;
        }
        if let Some(v) = goals.vector_of(&metrics) {
            add_non_dominated(&mut front, v, |p| p);
        }
    }
    Ok(Some((hypervolume(&front, reference), front.len())))
}
