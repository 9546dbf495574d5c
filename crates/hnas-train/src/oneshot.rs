//! The `oneshot:` evaluator: candidates scored with weights inherited from a supernet
//! ([`crate::supernet`]), trained once per space on first use, kept on disk and reused.
//! Higher fidelities train the candidate on its own, so that a successive-halving ladder
//! goes one-shot score → a few epochs → full training.

use crate::evaluator::TrainEvaluator;
use crate::supernet::{self, Rule, Share, Supernet, SupernetConfig};
use hnas_eval::{EvalError, Evaluator, Metrics, TrialInfo};
use hnas_space::{Candidate, Space};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where supernets are kept when no `file=` is given (under the working directory).
pub const DEFAULT_ROOT: &str = ".hnas/supernets";

/// What one-shot scoring costs, in training epochs of the candidate (a calibration pass and
/// one pass over the validation split, measured at about a tenth of an epoch on MNIST-1D).
const SCORE_COST_EPOCHS: f64 = 0.1;

/// The metrics of a one-shot score.
pub const METRICS: [&str; 7] = [
    "accuracy",
    "loss",
    "params",
    "flops",
    "score_seconds",
    "untrained_units",
    "epochs",
];

pub struct OneShotEvaluator {
    name: String,
    /// The dataset, the skeleton, and the standalone training of higher fidelities.
    standalone: TrainEvaluator,
    pub config: SupernetConfig,
    /// The supernet's folder (`None`: one per identity under [`DEFAULT_ROOT`]).
    pub file: Option<PathBuf>,
    /// Print a line per supernet epoch on standard error.
    pub verbose: bool,
    nets: Mutex<HashMap<u64, Arc<Mutex<Supernet>>>>,
}

impl OneShotEvaluator {
    /// Parses what follows `oneshot:`: a dataset as `train:` names it, then options.
    /// Supernet options: `epochs` (of the supernet, default 30), `rule=uniform|sandwich`,
    /// `share=slice|shape` (units at one place differing in width or kernel share weights by
    /// slicing, BigNAS's way, or only units of one shape share),
    /// `calibrate=N`, `score_size=N` (validation examples scored), `seed=N`, `file=DIR`, `lr`, `batch`, `optimizer`, `momentum`,
    /// `weight_decay`; `train_epochs=N` is the standalone training of the top rung; `channels`,
    /// `cells`, `train_size` as for `train:`.
    pub fn parse(spec: &str) -> Result<OneShotEvaluator, EvalError> {
        let name = format!("oneshot:{spec}");
        let fatal = |m: String| EvalError::Fatal(format!("evaluator '{name}': {m}"));
        let mut parts = spec.split(',');
        let head = parts.next().unwrap_or_default();
        let mut config = SupernetConfig::default();
        let mut file = None;
        let mut passed = vec![head.to_string()];
        let mut train_epochs = None;
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                return Err(fatal(format!("option `{p}` is not KEY=VALUE")));
            };
            let count = || {
                v.parse::<usize>().ok().filter(|x| *x > 0).ok_or_else(|| {
                    fatal(format!(
                        "option {k}: expected a positive integer, found `{v}`"
                    ))
                })
            };
            match k {
                "rule" => {
                    config.rule = Rule::from_name(v).ok_or_else(|| {
                        fatal(format!("rule `{v}`: expected uniform or sandwich"))
                    })?
                }
                "share" => {
                    config.share = Share::from_name(v).ok_or_else(|| {
                        fatal(format!("share `{v}`: expected slice or shape"))
                    })?
                }
                "calibrate" => {
                    config.calibrate = v
                        .parse()
                        .map_err(|_| fatal(format!("option calibrate: expected a count, found `{v}`")))?
                }
                "seed" => {
                    config.seed = v
                        .parse()
                        .map_err(|_| fatal(format!("option seed: expected an integer, found `{v}`")))?
                }
                "file" => file = Some(PathBuf::from(v)),
                "score_size" => config.score_size = count()?,
                "epochs" => config.epochs = count()?,
                "train_epochs" => train_epochs = Some(count()?),
                // Settings of both the supernet's training and the standalone rungs.
                "lr" | "batch" | "optimizer" | "momentum" | "weight_decay" | "channels"
                | "cells" | "train_size" | "label_smoothing" => passed.push(p.to_string()),
                _ => {
                    return Err(fatal(format!(
                        "unknown option `{k}` (epochs, rule, share, calibrate, score_size, seed, file, lr, batch, \
                         optimizer, momentum, weight_decay, train_epochs, channels, cells, train_size)"
                    )))
                }
            }
        }
        let standalone = TrainEvaluator::for_ladder(&passed, train_epochs).map_err(fatal)?;
        let c = &standalone.config;
        config.batch = c.batch;
        config.lr = c.lr;
        config.optimizer = c.optimizer.name().into();
        config.momentum = c.momentum;
        config.weight_decay = c.weight_decay;
        Ok(OneShotEvaluator {
            name,
            standalone,
            config,
            file,
            verbose: true,
            nets: Mutex::new(HashMap::new()),
        })
    }

    /// The supernet for `space`, opened or trained on first use.
    pub fn supernet(&self, space: &Space) -> Result<Arc<Mutex<Supernet>>, EvalError> {
        let key = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            space.source().hash(&mut h);
            h.finish()
        };
        let slot = {
            let mut nets = self.nets.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = nets.get(&key) {
                return Ok(n.clone());
            }
            // Only one thread trains; the others wait on the map's lock meanwhile, which is
            // what they would do anyway.
            let data = self.standalone.dataset()?;
            let fatal =
                |e: supernet::SupernetError| EvalError::Fatal(format!("{}: {e}", self.name));
            let dir = match &self.file {
                Some(f) => f.clone(),
                None => supernet::default_dir(
                    &PathBuf::from(DEFAULT_ROOT),
                    space,
                    &data,
                    self.standalone.skeleton,
                    &self.config,
                ),
            };
            let mut net = Supernet::open(
                &dir,
                space,
                &data,
                self.standalone.skeleton,
                self.config.clone(),
            )
            .map_err(fatal)?;
            if net.epochs_done() < self.config.epochs {
                if self.verbose {
                    eprintln!(
                        "{}: training the supernet in {} ({} of {} epochs done)",
                        self.name,
                        dir.display(),
                        net.epochs_done(),
                        self.config.epochs
                    );
                }
                let verbose = self.verbose;
                net.train(space, &data, None, Some(&dir), &mut |r| {
                    if verbose {
                        eprintln!(
                            "  supernet epoch {}/{}: loss {:.4} ({:.1} s)",
                            r.epoch, r.epochs, r.loss, r.seconds
                        );
                    }
                })
                .map_err(fatal)?;
            }
            let n = Arc::new(Mutex::new(net));
            nets.insert(key, n.clone());
            n
        };
        Ok(slot)
    }

    fn one_shot(&self, space: &Space, c: &Candidate) -> Result<Metrics, EvalError> {
        let data = self.standalone.dataset()?;
        let net = self.supernet(space)?;
        let net = net.lock().unwrap_or_else(|e| e.into_inner());
        let compiled = net
            .compile(space, c)
            .map_err(|e| EvalError::Failed(e.to_string()))?;
        let s = net
            .score(&compiled, &data)
            .map_err(|e| EvalError::Failed(e.to_string()))?;
        if !s.loss.is_finite() {
            return Err(EvalError::Failed(format!(
                "one-shot loss is {} with inherited weights",
                s.loss
            )));
        }
        let mut m = Metrics::new();
        m.insert("accuracy".into(), s.accuracy);
        m.insert("loss".into(), s.loss);
        m.insert("params".into(), compiled.net.params() as f64);
        m.insert("flops".into(), compiled.net.flops() as f64);
        m.insert("score_seconds".into(), s.seconds);
        m.insert("untrained_units".into(), s.untrained as f64);
        m.insert("epochs".into(), 0.0);
        Ok(m)
    }
}

fn is_one_shot(fidelity: Option<f64>) -> bool {
    fidelity.is_none_or(|f| f < 1.0)
}

impl Evaluator for OneShotEvaluator {
    fn name(&self) -> &str {
        &self.name
    }

    fn metrics(&self) -> Vec<String> {
        METRICS.iter().map(|s| s.to_string()).collect()
    }

    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
    ) -> Result<Metrics, EvalError> {
        if is_one_shot(fidelity) {
            self.one_shot(space, c)
        } else {
            self.standalone.evaluate(space, c, fidelity)
        }
    }

    fn evaluate_trial(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
        trial: &TrialInfo,
    ) -> Result<Metrics, EvalError> {
        if is_one_shot(fidelity) {
            self.one_shot(space, c)
        } else {
            self.standalone.evaluate_trial(space, c, fidelity, trial)
        }
    }

    fn check_space(&self, space: &Space) -> Result<(), EvalError> {
        let data = self.standalone.dataset()?;
        supernet::check_supported(space, &data, self.standalone.skeleton)
            .map_err(|e| EvalError::Fatal(format!("{}: {e}", self.name)))
    }

    fn cost(&self, fidelity: Option<f64>) -> f64 {
        if is_one_shot(fidelity) {
            SCORE_COST_EPOCHS
        } else {
            self.standalone.cost(fidelity)
        }
    }

    fn cost_unit(&self) -> &str {
        "epochs"
    }

    /// The one-shot score (fidelity 0), then the standalone ladder 1, 3, 9, .. epochs up to
    /// `train_epochs`.
    fn fidelities(&self) -> Vec<f64> {
        let mut f = vec![0.0];
        f.extend(self.standalone.fidelities());
        f
    }
}
