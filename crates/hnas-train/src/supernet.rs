//! One-shot weight sharing: a supernet holds the weights of every candidate of a space, and
//! any candidate is scored with the weights it inherits instead of being trained.
//!
//! Which weights two candidates share follows from where the compiler made each unit
//! ([`Compiled::unit_paths`]): a unit made by the same option of the same choice, under the
//! same ancestors and with the same shape, is one set of weights in the supernet. For an
//! NB201-style cell stacked in a skeleton that is exactly SPOS's supernet (one set of weights
//! per edge and operation, per cell of the skeleton); for a hierarchical space it is the
//! natural generalization (a block's convolution is shared by every network that has that
//! block at that place). With `share = slice` (the default) units at one place that differ
//! in width or kernel size share weights by slicing, as in BigNAS ([`crate::slice`]): the
//! pool holds the largest met, a narrower unit uses its first channels and a smaller kernel
//! its centre. With `share = shape` they are apart. The pool grows as training meets new
//! units, and a shared unit grows (keeping what it learnt) when a larger one is met.
//!
//! Training samples one candidate per step uniformly from the space (SPOS) or, with the
//! sandwich rule (BigNAS), the largest and smallest of a fixed draw plus two uniform ones, the
//! others learning from the largest's predictions (in-place distillation). Before a candidate
//! is scored its batch norms' statistics are recomputed on training examples with its own
//! path through the weights: the statistics the pool accumulated belong to no one network.
//!
//! A supernet is saved as a folder: `meta.json` (what it was trained for, how far, and each
//! shared unit's place and shape), `weights-E.bpk` and `optim-E.bpk` (burn records of the
//! weights and the optimizer's state after epoch E). A killed training resumes from the last
//! complete epoch; a later study with the same space, data and settings reuses it.

use crate::compile::{compile, Compiled, Optim, Skeleton, TrainArgs};
use crate::data::{Dataset, Split};
use crate::model::{Forward, Model, UnitModule};
use crate::net::{Shape, Unit};
use crate::train::{self, batch_tensors};
use burn::module::Module;
use burn::module::RunningState;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Tensor};
use hnas_space::{Candidate, Space};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How a training step picks the networks it trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    /// One network drawn uniformly per step (single-path one-shot, SPOS).
    Uniform,
    /// The largest and the smallest network (by FLOPs, of a fixed draw) and two uniform ones
    /// per step; the three others learn from the largest's predictions (BigNAS).
    Sandwich,
}

impl Rule {
    pub fn from_name(s: &str) -> Option<Rule> {
        match s {
            "uniform" | "spos" => Some(Rule::Uniform),
            "sandwich" | "bignas" => Some(Rule::Sandwich),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Rule::Uniform => "uniform",
            Rule::Sandwich => "sandwich",
        }
    }
}

/// Which units at one place share weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Share {
    /// Units that differ in width or kernel size share by slicing (BigNAS).
    #[default]
    Slice,
    /// Only units of the same shape share.
    Shape,
}

impl Share {
    pub fn from_name(s: &str) -> Option<Share> {
        match s {
            "slice" | "bignas" => Some(Share::Slice),
            "shape" => Some(Share::Shape),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Share::Slice => "slice",
            Share::Shape => "shape",
        }
    }
}

/// How a supernet is trained and how candidates are scored on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupernetConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub optimizer: String,
    pub momentum: f64,
    pub weight_decay: f64,
    pub seed: u64,
    pub rule: Rule,
    /// Training examples a candidate's batch norms are recalibrated on before it is scored.
    pub calibrate: usize,
    /// Validation examples a candidate is scored on (the first ones; all when fewer).
    pub score_size: usize,
    #[serde(default)]
    pub share: Share,
}

impl Default for SupernetConfig {
    fn default() -> Self {
        SupernetConfig {
            epochs: 30,
            batch: 64,
            lr: 0.005,
            optimizer: Optim::Adam.name().into(),
            momentum: 0.9,
            weight_decay: 0.0,
            seed: 0,
            rule: Rule::Uniform,
            calibrate: 1000,
            score_size: 2000,
            share: Share::Slice,
        }
    }
}

/// Why a supernet cannot be built, trained, read or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SupernetError {
    /// The space has a choice one set of shared weights cannot stand for.
    #[error("{0}")]
    Unsupported(String),
    /// Training diverged.
    #[error("supernet training diverged: loss {loss} at epoch {epoch}")]
    Diverged { loss: f64, epoch: usize },
    /// Reading or writing the supernet's folder failed.
    #[error("{0}")]
    Io(String),
    /// This candidate cannot be scored on the supernet.
    #[error("{0}")]
    Candidate(String),
}

/// One epoch of supernet training, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    pub epoch: usize,
    pub epochs: usize,
    pub loss: f64,
    pub seconds: f64,
}

/// A candidate scored with inherited weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Validation accuracy in percent.
    pub accuracy: f64,
    pub loss: f64,
    /// Units training never met (scored with fresh weights).
    pub untrained: usize,
    pub seconds: f64,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    identity: String,
    epochs_done: usize,
    steps_done: usize,
    epoch_losses: Vec<f64>,
    keys: Vec<String>,
    units: Vec<Unit>,
}

const FORMAT: u32 = 1;

/// The weights of every candidate of a space, shared by place (see the module docs).
pub struct Supernet {
    cfg: SupernetConfig,
    input: Shape,
    classes: usize,
    skeleton: Skeleton,
    identity: String,
    keys: Vec<String>,
    units: Vec<Unit>,
    index: HashMap<String, usize>,
    pub(crate) pool: Model,
    optim: ModuleOptimizer,
    epochs_done: usize,
    steps_done: usize,
    epoch_losses: Vec<f64>,
    pub(crate) device: Device,
}

fn stable_hash(x: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    x.hash(&mut h);
    h.finish()
}

/// A unit's place and shape: what makes two units one set of weights.
fn unit_key(path: &str, u: &Unit) -> String {
    format!(
        "{path} {}",
        serde_json::to_string(u).expect("a unit serializes")
    )
}

impl Supernet {
    /// What makes two units one set of weights: their place and shape, or with slicing their
    /// place and kind.
    fn key(&self, path: &str, u: &Unit) -> String {
        match (self.cfg.share, crate::slice::kind(u)) {
            (Share::Slice, Some(kind)) => format!("{path} {kind}"),
            _ => unit_key(path, u),
        }
    }

    /// An untrained supernet for `space` on `data`, after checking that the space is one a
    /// supernet can share weights over.
    pub fn new(
        space: &Space,
        data: &Dataset,
        skeleton: Skeleton,
        cfg: SupernetConfig,
    ) -> Result<Supernet, SupernetError> {
        check_supported(space, data, skeleton)?;
        let optim = Optim::from_name(&cfg.optimizer).ok_or_else(|| {
            SupernetError::Unsupported(format!(
                "optimizer `{}`: expected sgd, adam or adamw",
                cfg.optimizer
            ))
        })?;
        let identity = identity(space, data, skeleton, &cfg);
        Ok(Supernet {
            optim: train::optimizer(optim, cfg.momentum, cfg.weight_decay),
            cfg,
            input: data.input,
            classes: data.classes,
            skeleton,
            identity,
            keys: Vec::new(),
            units: Vec::new(),
            index: HashMap::new(),
            pool: Model { units: Vec::new() },
            epochs_done: 0,
            steps_done: 0,
            epoch_losses: Vec::new(),
            device: train::device().autodiff(),
        })
    }

    /// The supernet saved in `dir` when it was trained for this space, data and settings
    /// (any number of epochs), else a new one.
    pub fn open(
        dir: &Path,
        space: &Space,
        data: &Dataset,
        skeleton: Skeleton,
        cfg: SupernetConfig,
    ) -> Result<Supernet, SupernetError> {
        let mut net = Supernet::new(space, data, skeleton, cfg)?;
        let meta_path = dir.join("meta.json");
        if !meta_path.exists() {
            return Ok(net);
        }
        let io = |e: String| SupernetError::Io(format!("supernet {}: {e}", dir.display()));
        let text = std::fs::read_to_string(&meta_path).map_err(|e| io(e.to_string()))?;
        let meta: Meta = serde_json::from_str(&text).map_err(|e| io(e.to_string()))?;
        if meta.format != FORMAT || meta.identity != net.identity {
            return Err(io(
                "it was trained for another space, dataset or settings; name another folder with file=".into(),
            ));
        }
        net.keys = meta.keys;
        net.units = meta.units;
        net.index = net
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        net.pool = Model {
            units: net
                .keys
                .iter()
                .zip(&net.units)
                .map(|(k, u)| UnitModule::init(u, &net.device, net.cfg.seed ^ stable_hash(k)))
                .collect(),
        };
        let e = meta.epochs_done;
        let record = ModuleRecord::load(dir.join(format!("weights-{e}.bpk")))
            .map_err(|e| io(e.to_string()))?;
        net.pool = net
            .pool
            .try_load_record(record)
            .map_err(|e| io(e.to_string()))?;
        let optim = std::mem::replace(&mut net.optim, train::optimizer(Optim::Sgd, 0.0, 0.0));
        net.optim = optim
            .load(dir.join(format!("optim-{e}.bpk")))
            .map_err(|e| io(e.to_string()))?;
        net.epochs_done = e;
        net.steps_done = meta.steps_done;
        net.epoch_losses = meta.epoch_losses;
        Ok(net)
    }

    /// Writes the supernet to `dir`: the records of this epoch first, then `meta.json`
    /// (renamed into place), so a process killed at any moment leaves the last complete
    /// epoch readable.
    pub fn save(&self, dir: &Path) -> Result<(), SupernetError> {
        let io = |e: String| SupernetError::Io(format!("supernet {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(|e| io(e.to_string()))?;
        let e = self.epochs_done;
        self.pool
            .clone()
            .into_record()
            .save(dir.join(format!("weights-{e}.bpk")))
            .map_err(|e| io(e.to_string()))?;
        self.optim
            .save(dir.join(format!("optim-{e}.bpk")))
            .map_err(|e| io(e.to_string()))?;
        let meta = Meta {
            format: FORMAT,
            identity: self.identity.clone(),
            epochs_done: e,
            steps_done: self.steps_done,
            epoch_losses: self.epoch_losses.clone(),
            keys: self.keys.clone(),
            units: self.units.clone(),
        };
        let tmp = dir.join("meta.json.tmp");
        std::fs::write(&tmp, serde_json::to_string(&meta).expect("meta serializes"))
            .map_err(|e| io(e.to_string()))?;
        std::fs::rename(&tmp, dir.join("meta.json")).map_err(|e| io(e.to_string()))?;
        if e > 0 {
            for old in [
                format!("weights-{}.bpk", e - 1),
                format!("optim-{}.bpk", e - 1),
            ] {
                let _ = std::fs::remove_file(dir.join(old));
            }
        }
        Ok(())
    }

    /// Epochs trained so far.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Mean training loss of each epoch so far.
    pub fn epoch_losses(&self) -> &[f64] {
        &self.epoch_losses
    }

    /// Sets of shared weights in the pool.
    pub fn shared_units(&self) -> usize {
        self.keys.len()
    }

    /// The settings it trains and scores with.
    pub fn config(&self) -> &SupernetConfig {
        &self.cfg
    }

    /// Compiles a candidate for this supernet's data and skeleton.
    pub fn compile(&self, space: &Space, c: &Candidate) -> Result<Compiled, SupernetError> {
        compile(&space.to_json(c), self.input, self.classes, self.skeleton)
            .map_err(|e| SupernetError::Candidate(format!("invalid network: {e}")))
    }

    /// Adds a candidate's units to the pool as training does on meeting it: new places get
    /// fresh weights, and with slicing a shared unit smaller than the candidate's grows.
    pub fn meet(&mut self, c: &Compiled) {
        self.slots(c);
    }

    /// The pool slots of a compiled candidate's units, adding fresh ones for units not met
    /// before.
    pub(crate) fn slots(&mut self, c: &Compiled) -> Vec<usize> {
        let mut out = Vec::with_capacity(c.net.units.len());
        for (path, u) in c.unit_paths.iter().zip(&c.net.units) {
            let key = self.key(path, u);
            let i = match self.index.get(&key) {
                Some(&i) => {
                    if let Some(big) = crate::slice::covering(&self.units[i], u) {
                        // A larger unit at a shared place: the shared weights grow, keeping
                        // what they learnt in their leading slice.
                        let fresh =
                            UnitModule::init(&big, &self.device, self.cfg.seed ^ stable_hash(&key));
                        self.pool.units[i] = crate::slice::embed(&fresh, &self.pool.units[i]);
                        self.units[i] = big;
                    }
                    i
                }
                None => {
                    let i = self.keys.len();
                    self.pool.units.push(UnitModule::init(
                        u,
                        &self.device,
                        self.cfg.seed ^ stable_hash(&key),
                    ));
                    self.index.insert(key.clone(), i);
                    self.keys.push(key);
                    self.units.push(u.clone());
                    i
                }
            };
            out.push(i);
        }
        out
    }

    /// The candidate's network with the weights it inherits from the supernet, and how many
    /// of its units training never met: those get fresh weights, seeded by their place as
    /// the pool would have seeded them. A unit of the shared unit's size is the same
    /// parameters, not a copy; a sliced unit (narrower, smaller kernel) is computed from
    /// them, so an optimizer stepping on this model does not reach the pool: train through
    /// [`Supernet::train`], or write edited weights back with [`Supernet::put`].
    pub fn inherit(&self, c: &Compiled) -> (Model, usize) {
        self.inherit_from(c, false)
    }

    /// [`Supernet::inherit`], the slices taken from untracked copies when `untracked` (a
    /// score builds no autodiff graph that no backward pass would free).
    fn inherit_from(&self, c: &Compiled, untracked: bool) -> (Model, usize) {
        let mut units = Vec::with_capacity(c.net.units.len());
        let mut fresh = 0;
        for (path, u) in c.unit_paths.iter().zip(&c.net.units) {
            let key = self.key(path, u);
            match self.index.get(&key) {
                Some(&i) if crate::slice::fits(&self.units[i], u) => {
                    let shared = &self.pool.units[i];
                    units.push(if untracked {
                        crate::slice::view(&shared.clone().no_grad(), u)
                    } else {
                        crate::slice::view(shared, u)
                    })
                }
                _ => {
                    fresh += 1;
                    units.push(UnitModule::init(
                        u,
                        &self.device,
                        self.cfg.seed ^ stable_hash(&key),
                    ));
                }
            }
        }
        (Model { units }, fresh)
    }

    /// Writes the weights of the candidate's units into the pool (for tests and tools that
    /// edit shared weights): a sliced unit's into its slice of the shared one.
    pub fn put(&mut self, c: &Compiled, model: Model) {
        let slots = self.slots(c);
        for (u, i) in model.units.into_iter().zip(slots) {
            self.pool.units[i] = crate::slice::embed(&self.pool.units[i], &u);
        }
    }

    fn draw(&self, space: &Space, rng: &mut ChaCha8Rng) -> Result<Compiled, SupernetError> {
        let mut first = None;
        for _ in 0..100 {
            let c = space.sample(rng, space.search_mode());
            match self.compile(space, &c) {
                Ok(x) => return Ok(x),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.expect("a hundred draws failed"))
    }

    /// The largest and smallest networks by FLOPs among 100 draws (the sandwich rule's ends).
    fn ends(&self, space: &Space) -> Result<(Compiled, Compiled), SupernetError> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed ^ 0xe4d5);
        let mut all = Vec::new();
        for _ in 0..100 {
            all.push(self.draw(space, &mut rng)?);
        }
        all.sort_by_key(|c| c.net.flops());
        let small = all.swap_remove(0);
        let large = all.pop().expect("a hundred draws");
        Ok((large, small))
    }

    /// Trains until `epochs` epochs are done (the supernet's own `epochs` when `None`),
    /// saving to `dir` after each epoch when given.
    pub fn train(
        &mut self,
        space: &Space,
        data: &Dataset,
        until: Option<usize>,
        dir: Option<&Path>,
        progress: &mut dyn FnMut(EpochReport),
    ) -> Result<(), SupernetError> {
        let epochs = self.cfg.epochs;
        let until = until.unwrap_or(epochs).min(epochs);
        if self.epochs_done >= until {
            return Ok(());
        }
        let loss_fn = CrossEntropyLossConfig::new().init(&self.device);
        let dims = self.input.chw();
        let n = data.train.len();
        let batch = self.cfg.batch.clamp(1, n.max(1));
        let total = (n.div_ceil(batch) * epochs).max(1);
        let ends = match self.cfg.rule {
            Rule::Sandwich => Some(self.ends(space)?),
            Rule::Uniform => None,
        };
        while self.epochs_done < until {
            let start = Instant::now();
            let epoch = self.epochs_done;
            // Seeded per epoch, so that a resumed training draws what the uninterrupted one
            // would have.
            let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed ^ stable_hash(("epoch", epoch)));
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rng);
            let mut sum = 0.0;
            let mut steps = 0;
            for idx in order.chunks(batch) {
                let (x, y) = batch_tensors(&data.train, idx, dims, &self.device);
                let mut nets = Vec::new();
                if let Some((large, small)) = &ends {
                    nets.push(large.clone());
                    nets.push(small.clone());
                    nets.push(self.draw(space, &mut rng)?);
                    nets.push(self.draw(space, &mut rng)?);
                } else {
                    nets.push(self.draw(space, &mut rng)?);
                }
                let mut slots = Vec::new();
                for c in &nets {
                    slots.push(self.slots(c));
                }
                let mut union: Vec<usize> = slots.iter().flatten().copied().collect();
                union.sort_unstable();
                union.dedup();
                let model = Model {
                    units: union.iter().map(|&i| self.pool.units[i].clone()).collect(),
                };
                let mut loss: Option<Tensor<1>> = None;
                let mut teacher: Option<Tensor<2>> = None;
                for (c, s) in nets.iter().zip(&slots) {
                    // Each unit of the network is its shared unit, or a slice of it.
                    let sub = Model {
                        units: s
                            .iter()
                            .zip(&c.net.units)
                            .map(|(i, u)| {
                                let shared =
                                    &model.units[union.binary_search(i).expect("in union")];
                                crate::slice::view(shared, u)
                            })
                            .collect(),
                    };
                    let logits = Forward {
                        net: &c.net,
                        model: &sub,
                        dropout: Some(&mut rng),
                        probe: None,
                    }
                    .logits(x.clone());
                    let l = match &teacher {
                        None => {
                            if ends.is_some() {
                                teacher = Some(softmax(logits.clone().detach(), 1));
                            }
                            loss_fn.forward(logits, y.clone())
                        }
                        Some(p) => (p.clone() * log_softmax(logits, 1)).sum_dim(1).mean().neg(),
                    };
                    loss = Some(match loss {
                        None => l,
                        Some(acc) => acc + l,
                    });
                }
                let loss = loss.expect("at least one network");
                let value = loss
                    .clone()
                    .into_data()
                    .iter::<f64>()
                    .next()
                    .unwrap_or(f64::NAN)
                    / nets.len() as f64;
                if !value.is_finite() || value > 1e4 {
                    return Err(SupernetError::Diverged {
                        loss: value,
                        epoch: epoch + 1,
                    });
                }
                sum += value;
                steps += 1;
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let t = self.steps_done as f64;
                let lr =
                    self.cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * t / total as f64).cos());
                let model = self.optim.step(lr, model, grads);
                for (u, i) in model.units.into_iter().zip(union) {
                    self.pool.units[i] = u;
                }
                self.steps_done += 1;
            }
            self.epochs_done += 1;
            let loss = sum / steps.max(1) as f64;
            self.epoch_losses.push(loss);
            if let Some(d) = dir {
                self.save(d)?;
            }
            progress(EpochReport {
                epoch: self.epochs_done,
                epochs,
                loss,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
        Ok(())
    }

    /// Scores a candidate with inherited weights: its batch norms recalibrated on
    /// `calibrate` training examples, then its accuracy on the validation split.
    pub fn score(&self, c: &Compiled, data: &Dataset) -> Result<Score, SupernetError> {
        let start = Instant::now();
        let (model, untrained) = self.inherit_from(c, true);
        // A forward pass on the autodiff device with tracked weights and no backward leaves
        // its graph behind (burn#4970: 22 GB after 45 Fashion-MNIST scores); untracked
        // weights build none, and batch norms still take their training path.
        let mut model = model.no_grad();
        recalibrate(
            &mut model,
            c,
            &data.train,
            self.cfg.calibrate,
            self.cfg.seed,
            &self.device,
        );
        let plain = train::device();
        let valid = if data.valid.len() > self.cfg.score_size {
            &data.valid.take(0, self.cfg.score_size, data.input.numel())
        } else {
            &data.valid
        };
        let (accuracy, loss) = train::evaluate(&c.net, &model.valid(), valid, &plain);
        Ok(Score {
            accuracy,
            loss,
            untrained,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// Recomputes every batch norm's running statistics as the exact mean over the calibration
/// batches of the statistics this network's own activations have.
fn recalibrate(
    model: &mut Model,
    c: &Compiled,
    split: &Split,
    examples: usize,
    seed: u64,
    device: &Device,
) {
    let n = examples.min(split.len());
    if n == 0
        || !model
            .units
            .iter()
            .any(|u| matches!(u, UnitModule::BatchNorm(_)))
    {
        return;
    }
    for u in &mut model.units {
        if let UnitModule::BatchNorm(bn) = u {
            let ch = bn.gamma.val().dims()[0];
            bn.running_mean = RunningState::new(Tensor::zeros([ch], device));
            bn.running_var = RunningState::new(Tensor::ones([ch], device));
        }
    }
    let mut order: Vec<usize> = (0..split.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0xca1b));
    let dims = c.net.input.chw();
    for (t, idx) in order[..n].chunks(250).enumerate() {
        for u in &mut model.units {
            if let UnitModule::BatchNorm(bn) = u {
                bn.momentum = 1.0 / (t + 1) as f64;
            }
        }
        let (x, _) = batch_tensors(split, idx, dims, device);
        let _ = Forward {
            net: &c.net,
            model,
            dropout: None,
            probe: None,
        }
        .logits(x);
    }
}

/// What a saved supernet must match to be reused: the space's text, the data, the skeleton
/// and every training setting except the number of epochs (more epochs continue it).
fn identity(space: &Space, data: &Dataset, skeleton: Skeleton, cfg: &SupernetConfig) -> String {
    let settings = SupernetConfig {
        epochs: 0,
        ..cfg.clone()
    };
    format!(
        "{:016x}",
        stable_hash((
            space.source(),
            &data.name,
            data.train.len(),
            data.input.to_string(),
            data.classes,
            skeleton.channels,
            skeleton.cells,
            serde_json::to_string(&settings).expect("settings serialize"),
        ))
    )
}

/// The folder a supernet of this identity is kept in under `root`.
pub fn default_dir(
    root: &Path,
    space: &Space,
    data: &Dataset,
    skeleton: Skeleton,
    cfg: &SupernetConfig,
) -> PathBuf {
    root.join(identity(space, data, skeleton, cfg))
}

/// A space a supernet can stand for: its networks compile for this data, and no choice is a
/// training setting (one supernet trains with one learning rate; networks that differ only in
/// theirs would get the same score). Checked on 64 draws.
pub fn check_supported(
    space: &Space,
    data: &Dataset,
    skeleton: Skeleton,
) -> Result<(), SupernetError> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5afe);
    let mut seen: Option<TrainArgs> = None;
    let mut first_err = None;
    let mut compiled = 0;
    for _ in 0..64 {
        let c = space.sample(&mut rng, space.search_mode());
        match compile(&space.to_json(&c), data.input, data.classes, skeleton) {
            Ok(x) => {
                compiled += 1;
                match &seen {
                    None => seen = Some(x.train),
                    Some(t) if *t != x.train => {
                        let which = train_arg_difference(t, &x.train);
                        return Err(SupernetError::Unsupported(format!(
                            "space {}: the choice of `{which}` (a training setting of the root \
                             operation) cannot be shared by one supernet, which trains with one \
                             {which}; make it a fixed value in the space, or search it with train:",
                            space.file_name()
                        )));
                    }
                    Some(_) => {}
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if compiled == 0 {
        return Err(SupernetError::Unsupported(format!(
            "space {}: none of 64 draws is a network for {} ({})",
            space.file_name(),
            data.name,
            first_err.map(|e| e.to_string()).unwrap_or_default()
        )));
    }
    Ok(())
}

fn train_arg_difference(a: &TrainArgs, b: &TrainArgs) -> &'static str {
    if a.lr != b.lr {
        "lr"
    } else if a.optimizer != b.optimizer {
        "optimizer"
    } else if a.weight_decay != b.weight_decay {
        "weight_decay"
    } else if a.momentum != b.momentum {
        "momentum"
    } else if a.batch != b.batch {
        "batch"
    } else {
        "label_smoothing"
    }
}
