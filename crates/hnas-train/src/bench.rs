//! Training throughput of one fixed network, for comparing backends with each other and with
//! PyTorch (bench/train_throughput.sh runs the same network in both).

use crate::compile::{compile, Optim, Skeleton};
use crate::model::{Forward, Model};
use crate::net::{Net, Shape};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// The benchmark network: 28×28×1 → conv 3×3 16 → ReLU → max pool 2 → conv 3×3 32 → ReLU →
/// max pool 2 → linear 10 (the same as bench/train_throughput.py builds in PyTorch).
pub fn fixed_cnn() -> Net {
    let j = serde_json::json!({"root": {"op": "net", "args": {"body": [
        {"op": "conv", "args": {"channels": 16, "kernel": 3, "act": "relu"}},
        {"op": "max_pool", "args": {"size": 2}},
        {"op": "conv", "args": {"channels": 32, "kernel": 3, "act": "relu"}},
        {"op": "max_pool", "args": {"size": 2}},
        "flatten"
    ]}}});
    compile(
        &j,
        Shape::Image { c: 1, h: 28, w: 28 },
        10,
        Skeleton::default(),
    )
    .expect("the benchmark network compiles")
    .net
}

/// Seconds spent per training step, split by phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    pub steps_per_second: f64,
    /// Forward pass and loss.
    pub forward: f64,
    pub backward: f64,
    /// The optimizer's update.
    pub update: f64,
}

/// Times `steps` training steps (after `warmup` untimed ones) of `net` on random data.
pub fn throughput(
    net: &Net,
    optimizer: Optim,
    batch: usize,
    steps: usize,
    warmup: usize,
) -> Throughput {
    let device = crate::train::device().autodiff();
    let mut model = Model::init(net, &device, 0);
    let mut optim = crate::train::optimizer(optimizer, 0.9, 0.0);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let [c, h, w] = net.input.chw();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let xs: Vec<f32> = (0..batch * c * h * w)
        .map(|_| rng.random::<f32>() - 0.5)
        .collect();
    let ys: Vec<i64> = (0..batch)
        .map(|_| rng.random_range(0..net.classes as i64))
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(xs, [batch, c, h, w]), &device);
    let y = Tensor::<1, Int>::from_data(TensorData::new(ys, [batch]), &device);
    let (mut fwd, mut bwd, mut upd) = (0.0, 0.0, 0.0);
    let start_all = Instant::now();
    let mut timed_from = start_all;
    for i in 0..warmup + steps {
        if i == warmup {
            timed_from = Instant::now();
            (fwd, bwd, upd) = (0.0, 0.0, 0.0);
        }
        let t0 = Instant::now();
        let logits = Forward {
            net,
            model: &model,
            dropout: None,
            probe: None,
        }
        .logits(x.clone());
        let loss = loss_fn.forward(logits, y.clone());
        // Reading the loss waits for all queued work on asynchronous backends (CUDA), so the
        // rate over many steps is right there too; the split by phase is exact on CPUs.
        let _ = loss.clone().into_data();
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let t2 = Instant::now();
        model = optim.step(0.01, model, grads);
        let t3 = Instant::now();
        fwd += (t1 - t0).as_secs_f64();
        bwd += (t2 - t1).as_secs_f64();
        upd += (t3 - t2).as_secs_f64();
    }
    let total = timed_from.elapsed().as_secs_f64();
    let n = steps.max(1) as f64;
    Throughput {
        steps_per_second: n / total,
        forward: fwd / n,
        backward: bwd / n,
        update: upd / n,
    }
}
