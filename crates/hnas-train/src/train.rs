//! Training a compiled network: mini-batch SGD with momentum or Adam(W), a cosine learning
//! rate, optional label smoothing; validation and test accuracy at the end; inference latency.

use crate::compile::Optim;
use crate::data::{Dataset, Split};
use crate::model::{Forward, Model};
use crate::net::Net;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub optimizer: Optim,
    pub weight_decay: f64,
    /// SGD's momentum (ignored by Adam).
    pub momentum: f64,
    pub label_smoothing: f64,
    /// Seeds the weights, the order of examples and dropout.
    pub seed: u64,
    /// The GPU to train on (`cuda:N` of `--devices`); `None`: the backend [`device`] picks.
    pub gpu: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 5,
            batch: 64,
            lr: 0.005,
            optimizer: Optim::Adam,
            weight_decay: 0.0,
            momentum: 0.9,
            label_smoothing: 0.0,
            seed: 0,
            gpu: None,
        }
    }
}

/// Where training is, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub steps: usize,
    pub loss: f64,
}

/// What training measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainResult {
    /// Accuracy on the validation split, in percent.
    pub valid_accuracy: f64,
    pub valid_loss: f64,
    /// Accuracy on the test split, in percent.
    pub test_accuracy: f64,
    /// Mean training loss over the last epoch.
    pub train_loss: f64,
    /// Training loss of every step, in order.
    pub losses: Vec<f64>,
    pub seconds: f64,
}

/// Why training stopped without a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("training diverged: loss {loss} at epoch {epoch}, step {step}")]
    Diverged {
        loss: f64,
        epoch: usize,
        step: usize,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The backend networks train on: burn's pure-Rust CPU backend (`flex`) unless a faster one
/// was compiled in and asked for with `HNAS_DEVICE` (`tch`, `tch-cuda`, `cuda`).
// burn marks its libtorch devices deprecated in favour of CubeCL ones; libtorch is still the
// fastest CPU backend it has.
#[allow(deprecated)]
pub fn device() -> Device {
    match backend_name() {
        #[cfg(feature = "tch")]
        "tch" => {
            crate::ops::keep_freed_memory();
            Device::libtorch()
        }
        #[cfg(feature = "tch")]
        "tch-cuda" => Device::libtorch_cuda(0),
        #[cfg(feature = "cuda")]
        "cuda" => Device::cuda(0),
        _ => Device::flex(),
    }
}

/// GPU `index` on the GPU backend this build has (`tch` with libtorch's CUDA, or `cuda`),
/// for a trial handed `cuda:N` by `--devices`.
#[allow(deprecated)]
pub fn gpu_device(index: usize) -> Result<Device, TrainError> {
    #[cfg(feature = "cuda")]
    if backend_name() == "cuda" {
        return Ok(Device::cuda(index));
    }
    #[cfg(feature = "tch")]
    return Ok(Device::libtorch_cuda(index));
    #[cfg(all(feature = "cuda", not(feature = "tch")))]
    return Ok(Device::cuda(index));
    #[allow(unreachable_code)]
    Err(TrainError::Invalid(format!(
        "cuda:{index} was asked for, but this hnas trains on the CPU only: build it with --features tch (libtorch) or cuda (docs/training.md)"
    )))
}

/// The backend [`device`] picks: `HNAS_DEVICE` where this build has it, else `flex`.
pub fn backend_name() -> &'static str {
    match std::env::var("HNAS_DEVICE").as_deref() {
        #[cfg(feature = "tch")]
        Ok("tch") => "tch",
        #[cfg(feature = "tch")]
        Ok("tch-cuda") => "tch-cuda",
        #[cfg(feature = "cuda")]
        Ok("cuda") => "cuda",
        _ => "flex",
    }
}

pub(crate) fn batch_tensors(
    split: &Split,
    idx: &[usize],
    dims: [usize; 3],
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let numel = dims[0] * dims[1] * dims[2];
    let mut x = Vec::with_capacity(idx.len() * numel);
    let mut y = Vec::with_capacity(idx.len());
    for &i in idx {
        x.extend_from_slice(&split.x[i * numel..(i + 1) * numel]);
        y.push(split.y[i] as i64);
    }
    let b = idx.len();
    (
        Tensor::<4>::from_data(TensorData::new(x, [b, dims[0], dims[1], dims[2]]), device),
        Tensor::<1, Int>::from_data(TensorData::new(y, [b]), device),
    )
}

/// The optimizer `optim` with SGD's `momentum` and a `weight_decay` (L2 for SGD and Adam,
/// decoupled for AdamW); 0 switches either off.
pub fn optimizer(optim: Optim, momentum: f64, weight_decay: f64) -> ModuleOptimizer {
    let decay = (weight_decay > 0.0).then_some(WeightDecayConfig {
        penalty: weight_decay as f32,
    });
    match optim {
        Optim::Sgd => SgdConfig::new()
            .with_momentum((momentum > 0.0).then_some(MomentumConfig {
                momentum,
                dampening: 0.0,
                nesterov: false,
            }))
            .with_weight_decay(decay)
            .init(),
        Optim::Adam => AdamConfig::new().with_weight_decay(decay).init(),
        Optim::AdamW => AdamWConfig::new()
            .with_weight_decay(weight_decay as f32)
            .init(),
    }
}

/// Trains `net` on `data`'s training split and measures it on validation and test.
pub fn train(
    net: &Net,
    data: &Dataset,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<TrainResult, TrainError> {
    if data.input != net.input {
        return Err(TrainError::Invalid(format!(
            "the network reads {} inputs, the dataset has {}",
            net.input, data.input
        )));
    }
    let start = Instant::now();
    let plain = match cfg.gpu {
        Some(i) => gpu_device(i)?,
        None => device(),
    };
    let device = plain.clone().autodiff();
    let mut model = Model::init(net, &device, cfg.seed);
    let mut optim = optimizer(cfg.optimizer, cfg.momentum, cfg.weight_decay);
    let loss_fn = CrossEntropyLossConfig::new()
        .with_smoothing((cfg.label_smoothing > 0.0).then_some(cfg.label_smoothing as f32))
        .init(&device);
    let dims = net.input.chw();
    let n = data.train.len();
    let batch = cfg.batch.clamp(1, n.max(1));
    let steps_per_epoch = n.div_ceil(batch);
    let total = (steps_per_epoch * cfg.epochs).max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed_da7a);
    let mut order: Vec<usize> = (0..n).collect();
    let mut losses = Vec::with_capacity(total);
    let mut train_loss = f64::NAN;
    let mut t = 0;
    for epoch in 0..cfg.epochs {
        order.shuffle(&mut rng);
        let mut sum = 0.0;
        for (step, idx) in order.chunks(batch).enumerate() {
            let (x, y) = batch_tensors(&data.train, idx, dims, &device);
            let logits = Forward {
                net,
                model: &model,
                dropout: Some(&mut rng),
                probe: None,
            }
            .logits(x);
            let loss = loss_fn.forward(logits, y);
            let value = loss.clone().into_scalar_f64();
            if !value.is_finite() || value > 1e4 {
                return Err(TrainError::Diverged {
                    loss: value,
                    epoch: epoch + 1,
                    step: step + 1,
                });
            }
            losses.push(value);
            sum += value;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let lr = cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * t as f64 / total as f64).cos());
            model = optim.step(lr, model, grads);
            t += 1;
            progress(Progress {
                epoch: epoch + 1,
                epochs: cfg.epochs,
                step: step + 1,
                steps: steps_per_epoch,
                loss: value,
            });
        }
        train_loss = sum / steps_per_epoch as f64;
    }
    let eval_model = model.valid();
    let (valid_accuracy, valid_loss) = evaluate(net, &eval_model, &data.valid, &plain);
    let (test_accuracy, _) = evaluate(net, &eval_model, &data.test, &plain);
    if !valid_loss.is_finite() {
        return Err(TrainError::Diverged {
            loss: valid_loss,
            epoch: cfg.epochs,
            step: steps_per_epoch,
        });
    }
    Ok(TrainResult {
        valid_accuracy,
        valid_loss,
        test_accuracy,
        train_loss,
        losses,
        seconds: start.elapsed().as_secs_f64(),
    })
}

trait ScalarF64 {
    fn into_scalar_f64(self) -> f64;
}

impl ScalarF64 for Tensor<1> {
    fn into_scalar_f64(self) -> f64 {
        self.into_data().iter::<f64>().next().unwrap_or(f64::NAN)
    }
}

/// Accuracy (percent) and mean loss of `model` on `split`.
pub fn evaluate(net: &Net, model: &Model, split: &Split, device: &Device) -> (f64, f64) {
    if split.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let dims = net.input.chw();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut correct = 0usize;
    let mut loss_sum = 0.0;
    let idx: Vec<usize> = (0..split.len()).collect();
    for chunk in idx.chunks(500) {
        let (x, y) = batch_tensors(split, chunk, dims, device);
        let logits = Forward {
            net,
            model,
            dropout: None,
            probe: None,
        }
        .logits(x);
        loss_sum +=
            loss_fn.forward(logits.clone(), y.clone()).into_scalar_f64() * chunk.len() as f64;
        let pred = logits.argmax(1).reshape([chunk.len()]);
        let hits: i64 = pred
            .equal(y)
            .int()
            .sum()
            .into_data()
            .iter::<i64>()
            .next()
            .unwrap_or(0);
        correct += hits as usize;
    }
    (
        100.0 * correct as f64 / split.len() as f64,
        loss_sum / split.len() as f64,
    )
}

/// Median wall time in milliseconds of `runs` forward passes of one example (after `warmup`
/// passes that are not timed), in inference mode.
pub fn latency_ms(net: &Net, model: &Model, runs: usize, warmup: usize) -> f64 {
    let device = device();
    let model = if model.units.is_empty() {
        model.clone()
    } else {
        model.valid()
    };
    let [c, h, w] = net.input.chw();
    let x = Tensor::<4>::zeros([1, c, h, w], &device);
    let mut times = Vec::with_capacity(runs);
    for i in 0..warmup + runs {
        let t = Instant::now();
        let y = Forward {
            net,
            model: &model,
            dropout: None,
            probe: None,
        }
        .logits(x.clone());
        let _ = y.into_data();
        if i >= warmup {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
}
