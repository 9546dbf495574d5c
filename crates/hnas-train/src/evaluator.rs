//! The `train:` evaluators: compile the candidate, train it for the fidelity's number of
//! epochs, report validation accuracy (what the search ranks on) with test accuracy, loss,
//! parameters, FLOPs and latency beside it.

use crate::compile::{compile, Compiled, Optim, Skeleton};
use crate::data::{self, Dataset};
use crate::model::Model;
use crate::train::{self, Progress, TrainConfig};
use hnas_eval::{EvalError, Evaluator, Metrics, TrialInfo};
use hnas_space::{Candidate, Space};
use rand::SeedableRng;
use std::sync::{Arc, OnceLock};

/// Receives training progress of the trial being evaluated.
pub type ProgressSink = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Trains candidates on a dataset.
pub struct TrainEvaluator {
    name: String,
    source: DataSource,
    data: OnceLock<Result<Arc<Dataset>, String>>,
    /// Defaults for what a candidate does not choose itself; `epochs` is the default fidelity.
    pub config: TrainConfig,
    pub skeleton: Skeleton,
    /// Examples kept from the training split (all when `None`).
    pub train_size: Option<usize>,
    /// Forward passes timed for the latency metric (0: not measured).
    pub latency_runs: usize,
    progress: Option<ProgressSink>,
}

#[derive(Debug, Clone)]
enum DataSource {
    Mnist1d,
    FashionMnist,
    Idx(std::path::PathBuf),
    Csv(std::path::PathBuf),
}

/// The metrics every `train:` evaluation reports.
pub const METRICS: [&str; 9] = [
    "accuracy",
    "test_accuracy",
    "loss",
    "train_loss",
    "params",
    "flops",
    "latency_ms",
    "train_seconds",
    "epochs",
];

impl TrainEvaluator {
    /// The standalone training of a ladder's upper rungs (`oneshot:`, `proxy:..,train_epochs=N`):
    /// `options` as `train:` reads them, the top rung at `top` epochs when given, latency not
    /// measured. An error is the message without the `train:` evaluator's name, for the
    /// caller to put its own in front.
    pub fn for_ladder(options: &[String], top: Option<usize>) -> Result<TrainEvaluator, String> {
        let spec = options.join(",");
        let mut t = TrainEvaluator::parse(&spec).map_err(|e| {
            e.to_string()
                .replace(&format!("evaluator 'train:{spec}': "), "")
        })?;
        t.latency_runs = 0;
        if let Some(e) = top {
            t.config.epochs = e;
        }
        Ok(t)
    }

    /// Parses `mnist1d`, `fashion-mnist`, `idx:DIR` or `csv:FILE` (what follows `train:`),
    /// then options `,epochs=N,batch=N,lr=X,optimizer=sgd|adam|adamw,weight_decay=X,
    /// momentum=X,label_smoothing=X,train_size=N,channels=N,cells=N,latency_runs=N`.
    pub fn parse(spec: &str) -> Result<TrainEvaluator, EvalError> {
        let name = format!("train:{spec}");
        let fatal = |m: String| EvalError::Fatal(format!("evaluator '{name}': {m}"));
        let mut parts = spec.split(',');
        let head = parts.next().unwrap_or_default();
        let source = match head {
            "mnist1d" | "mnist-1d" => DataSource::Mnist1d,
            "fashion-mnist" | "fashion_mnist" | "fmnist" => DataSource::FashionMnist,
            _ => match head.split_once(':') {
                Some(("idx", p)) if !p.is_empty() => DataSource::Idx(p.into()),
                Some(("csv", p)) if !p.is_empty() => DataSource::Csv(p.into()),
                _ => {
                    return Err(fatal(format!(
                        "unknown dataset `{head}`; expected mnist1d, fashion-mnist, idx:DIR or csv:FILE"
                    )))
                }
            },
        };
        let mut ev = TrainEvaluator::new(&name, source);
        if matches!(ev.source, DataSource::FashionMnist | DataSource::Idx(_)) {
            // Images cost more per example: fewer of them by default, so that a trial takes
            // seconds, not minutes, on two cores.
            ev.train_size = Some(10_000);
            ev.config.epochs = 3;
        }
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                return Err(fatal(format!("option `{p}` is not KEY=VALUE")));
            };
            let num = || {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| fatal(format!("option {k}: expected a number ≥ 0, found `{v}`")))
            };
            let count = || {
                v.parse::<usize>().ok().filter(|x| *x > 0).ok_or_else(|| {
                    fatal(format!(
                        "option {k}: expected a positive integer, found `{v}`"
                    ))
                })
            };
            match k {
                "epochs" => ev.config.epochs = count()?,
                "batch" => ev.config.batch = count()?,
                "lr" => ev.config.lr = num()?,
                "weight_decay" => ev.config.weight_decay = num()?,
                "momentum" => ev.config.momentum = num()?,
                "label_smoothing" => ev.config.label_smoothing = num()?,
                "train_size" => ev.train_size = Some(count()?),
                "channels" => ev.skeleton.channels = count()?,
                "cells" => ev.skeleton.cells = count()?,
                "latency_runs" => {
                    ev.latency_runs = v.parse().map_err(|_| fatal(format!("option {k}: `{v}`")))?
                }
                "optimizer" => {
                    ev.config.optimizer = Optim::from_name(v).ok_or_else(|| {
                        fatal(format!("optimizer `{v}`: expected sgd, adam or adamw"))
                    })?
                }
                _ => {
                    return Err(fatal(format!(
                    "unknown option `{k}` (epochs, batch, lr, optimizer, weight_decay, momentum, \
                         label_smoothing, train_size, channels, cells, latency_runs)"
                )))
                }
            }
        }
        Ok(ev)
    }

    fn new(name: &str, source: DataSource) -> TrainEvaluator {
        TrainEvaluator {
            name: name.to_string(),
            source,
            data: OnceLock::new(),
            config: TrainConfig::default(),
            skeleton: Skeleton::default(),
            train_size: None,
            latency_runs: 20,
            progress: None,
        }
    }

    /// Sends each training step's progress to `sink`.
    pub fn with_progress(mut self, sink: ProgressSink) -> Self {
        self.progress = Some(sink);
        self
    }

    /// The dataset, read once.
    pub fn dataset(&self) -> Result<Arc<Dataset>, EvalError> {
        self.data
            .get_or_init(|| {
                let d = match &self.source {
                    DataSource::Mnist1d => Ok(data::mnist1d()),
                    DataSource::FashionMnist => data::fashion_mnist(),
                    DataSource::Idx(p) => data::idx_dir(p),
                    DataSource::Csv(p) => data::csv_file(p),
                };
                d.map(|mut d| {
                    if let Some(n) = self.train_size {
                        d.train = d.train.truncated(n, d.input.numel());
                    }
                    Arc::new(d)
                })
                .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| EvalError::Fatal(format!("evaluator '{}': {e}", self.name)))
    }

    /// Compiles a candidate for this evaluator's dataset.
    pub fn compile(&self, space: &Space, c: &Candidate) -> Result<Compiled, EvalError> {
        let d = self.dataset()?;
        compile(&space.to_json(c), d.input, d.classes, self.skeleton)
            .map_err(|e| EvalError::Failed(format!("invalid network: {e}")))
    }

    fn run(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
        seed: u64,
        device: Option<&str>,
    ) -> Result<Metrics, EvalError> {
        let gpu = match device {
            None | Some("cpu") => None,
            Some(d) => match d.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
                Some(i) => Some(i),
                None => {
                    return Err(EvalError::Fatal(format!(
                        "{}: unknown device '{d}'; expected cpu or cuda:N",
                        self.name
                    )))
                }
            },
        };
        if let Some(i) = gpu {
            // A build without a GPU backend cannot run any trial: stop the study, not the trial.
            crate::train::gpu_device(i).map_err(|e| EvalError::Fatal(e.to_string()))?;
        }
        let d = self.dataset()?;
        let compiled = self.compile(space, c)?;
        let net = &compiled.net;
        let t = &compiled.train;
        let epochs = match fidelity {
            Some(f) if f >= 1.0 => f.round() as usize,
            Some(f) => {
                return Err(EvalError::Fatal(format!(
                    "{}: fidelity {f} is not a number of epochs",
                    self.name
                )))
            }
            None => self.config.epochs,
        };
        let cfg = TrainConfig {
            epochs,
            batch: t.batch.unwrap_or(self.config.batch),
            lr: t.lr.unwrap_or(self.config.lr),
            optimizer: t.optimizer.unwrap_or(self.config.optimizer),
            weight_decay: t.weight_decay.unwrap_or(self.config.weight_decay),
            momentum: t.momentum.unwrap_or(self.config.momentum),
            label_smoothing: t.label_smoothing.unwrap_or(self.config.label_smoothing),
            seed,
            gpu,
        };
        let sink = self.progress.clone();
        let mut progress = |p: Progress| {
            if let Some(s) = &sink {
                s(&p)
            }
        };
        let r = train::train(net, &d, &cfg, &mut progress)
            .map_err(|e| EvalError::Failed(e.to_string()))?;
        let mut m = Metrics::new();
        m.insert("accuracy".into(), r.valid_accuracy);
        m.insert("test_accuracy".into(), r.test_accuracy);
        m.insert("loss".into(), r.valid_loss);
        m.insert("train_loss".into(), r.train_loss);
        m.insert("params".into(), net.params() as f64);
        m.insert("flops".into(), net.flops() as f64);
        m.insert("train_seconds".into(), r.seconds);
        m.insert("epochs".into(), epochs as f64);
        // Not measured (latency_runs=0): left out, since a NaN metric fails the trial.
        if self.latency_runs > 0 {
            let model = Model::init(net, &train::device(), seed);
            let latency = train::latency_ms(net, &model, self.latency_runs, 3);
            m.insert("latency_ms".into(), latency);
        }
        Ok(m)
    }
}

impl Evaluator for TrainEvaluator {
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
        self.run(space, c, fidelity, 0, None)
    }

    fn evaluate_trial(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
        trial: &TrialInfo,
    ) -> Result<Metrics, EvalError> {
        let run = || self.run(space, c, fidelity, trial.seed, trial.device.as_deref());
        match trial.threads {
            // Beside other trials: a thread pool of its own, of its share of the cores. In
            // the process-wide pool one trial's tensor operations queue behind another's
            // (measured, two trials at once on 2 cores: each 20 % slower than alone with
            // the shared pool, 9 % faster with a pool of one thread each).
            Some(n) => match rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name({
                    let number = trial.trial;
                    move |i| format!("hnas-trial-{number}-{i}")
                })
                .build()
            {
                Ok(pool) => pool.install(run),
                Err(_) => run(),
            },
            None => run(),
        }
    }

    /// A space none of whose first samples means a network is the wrong space for training.
    fn check_space(&self, space: &Space) -> Result<(), EvalError> {
        // The compiler reads a cell's edges only and takes its last node as the output.
        let leaves = space.grammar().rules.iter().find(|r| {
            r.alts.iter().any(|a| {
                matches!(&a.kind, hnas_space::AltKind::Dag(d) if d.output == hnas_space::DagOutput::Leaves)
            })
        });
        if let Some(r) = leaves {
            return Err(EvalError::Fatal(format!(
                "{}: rule '{}' is a dag with 'output = leaves', which the trainer does not build (it takes a cell's last node as its output); evaluate such a space with a table or your own program",
                self.name, r.name
            )));
        }
        let d = self.dataset()?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut first = None;
        for _ in 0..8 {
            let c = space.sample(&mut rng, hnas_space::SampleMode::Uniform);
            match compile(&space.to_json(&c), d.input, d.classes, self.skeleton) {
                Ok(_) => return Ok(()),
                Err(e) if first.is_none() => first = Some(e),
                Err(_) => {}
            }
        }
        let e = first.expect("eight samples failed");
        if e.message.starts_with("no meaning for operation") {
            Err(EvalError::Fatal(format!(
                "{}: space {} is not a network space: {e}",
                self.name,
                space.file_name()
            )))
        } else {
            Ok(())
        }
    }

    fn cost(&self, fidelity: Option<f64>) -> f64 {
        fidelity.unwrap_or(self.config.epochs as f64)
    }

    fn cost_unit(&self) -> &str {
        "epochs"
    }

    /// One trial per core: a trial's training runs on one thread (the batches are small;
    /// measured: more threads per trial do not make one trial faster).
    fn auto_jobs(&self, cores: usize) -> usize {
        cores
    }

    /// 1, 3, 9, .. epochs up to the default, which closes the ladder.
    fn fidelities(&self) -> Vec<f64> {
        let top = self.config.epochs.max(1);
        let mut f = Vec::new();
        let mut e = 1;
        while e < top {
            f.push(e as f64);
            e *= 3;
        }
        f.push(top as f64);
        f
    }
}
