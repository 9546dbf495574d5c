//! The benchmark harness: several strategies, many seeds, regret curves.
//!
//! Every (strategy, seed) pair is an independent in-memory study; pairs run in parallel on
//! rayon's pool and the results do not depend on the number of threads.

use crate::{Dedup, Error, Objective, Settings, Study};
use hnas_eval::Evaluator;
use hnas_store::MemoryStore;
use rayon::prelude::*;
use std::sync::Arc;
use std::time::Instant;

/// What to compare.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub space_file: String,
    pub space: String,
    pub strategies: Vec<String>,
    pub objective: String,
    /// The metric regret is measured on (e.g. `test_200`), always maximized.
    pub regret_metric: String,
    pub seeds: u64,
    pub budget: u64,
    pub dedup: Dedup,
}

/// One strategy's results over all seeds.
#[derive(Debug, Clone)]
pub struct StrategyCurves {
    pub strategy: String,
    /// `regret[seed][t]`: regret of the incumbent after `t + 1` counted trials (or its value
    /// of the metric, when no optimum is known; see [`BenchResult::optimum`]).
    pub regret: Vec<Vec<f64>>,
    /// Total wall time of all seeds' studies, seconds (summed over threads).
    pub seconds: f64,
    pub trials: u64,
}

impl StrategyCurves {
    /// Mean and standard error of the regret after `t` counted trials (1-based).
    pub fn at(&self, t: usize) -> (f64, f64) {
        let xs: Vec<f64> = self
            .regret
            .iter()
            .map(|r| r[(t - 1).min(r.len() - 1)])
            .collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = if n > 1.0 {
            xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        (mean, (var / n).sqrt())
    }
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// The best value of the regret metric over the whole benchmark, when the evaluator knows
    /// it: curves are then regrets (lower is better); otherwise they are the incumbent's value
    /// of the metric itself (higher is better).
    pub optimum: Option<f64>,
    pub curves: Vec<StrategyCurves>,
}

/// Runs every strategy on `seeds` seeds (0..seeds) with the given evaluator.
pub fn run_benchmark(
    cfg: &BenchConfig,
    evaluator: Arc<dyn Evaluator>,
) -> Result<BenchResult, Error> {
    let objective = Objective::parse(&cfg.objective)?;
    let optimum = evaluator.optimum(&cfg.regret_metric, true);
    let mut curves = Vec::new();
    for strategy in &cfg.strategies {
        let runs: Vec<Result<(Vec<f64>, f64), Error>> = (0..cfg.seeds)
            .into_par_iter()
            .map(|seed| {
                let settings = Settings {
                    space_file: cfg.space_file.clone(),
                    space: cfg.space.clone(),
                    strategy: strategy.clone(),
                    evaluator: evaluator.name().to_string(),
                    objective: objective.to_string(),
                    report: vec![cfg.regret_metric.clone()],
                    seed,
                    budget: cfg.budget,
                    fidelity: None,
                    dedup: cfg.dedup,
                };
                let start = Instant::now();
                let mut study =
                    Study::open(settings, evaluator.clone(), Box::new(MemoryStore::new()))?;
                let mut curve = Vec::with_capacity(cfg.budget as usize);
                let mut incumbent: Option<(f64, f64)> = None; // (objective score, regret metric)
                study.run(&mut |ev| {
                    if let crate::Event::Trial { trial, counted, .. } = ev {
                        if let (Some(v), Some(r)) =
                            (trial.value, trial.metrics.get(&cfg.regret_metric))
                        {
                            let s = objective.score(v);
                            if incumbent.is_none_or(|(b, _)| s > b) {
                                incumbent = Some((s, *r));
                            }
                        }
                        if trial.counted && curve.len() < counted as usize {
                            curve.push(incumbent.map_or(f64::NAN, |(_, r)| match optimum {
                                Some(o) => o - r,
                                None => r,
                            }));
                        }
                    }
                })?;
                Ok((curve, start.elapsed().as_secs_f64()))
            })
            .collect();
        let mut regret = Vec::new();
        let mut seconds = 0.0;
        for r in runs {
            let (c, s) = r?;
            regret.push(c);
            seconds += s;
        }
        let trials = regret.iter().map(|c| c.len() as u64).sum();
        curves.push(StrategyCurves {
            strategy: strategy.clone(),
            regret,
            seconds,
            trials,
        });
    }
    Ok(BenchResult { optimum, curves })
}
