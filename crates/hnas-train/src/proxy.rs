//! Zero-cost proxies: a network's quality estimated at initialisation, from one minibatch or
//! from no data at all, and the `proxy:` evaluator that reports them as metrics.
//!
//! Each proxy follows its paper's definition as the zero-cost-proxy literature computes it
//! (Abdelfattah et al., ICLR 2021; Mellor et al., ICML 2021):
//! - `params`, `flops`: read off the compiled network;
//! - `synflow`: Σ θ·∂R/∂θ with every weight replaced by its absolute value, batch norm
//!   bypassed and R the sum of the outputs for an all-ones input (data-free);
//! - `grad_norm`: Σ over weight tensors of ‖∂L/∂θ‖₂, L the cross-entropy of one minibatch;
//! - `snip`: Σ |θ·∂L/∂θ|;
//! - `naswot`: log|det K| with K[i][j] the number of activation units on which examples i
//!   and j of the minibatch agree (both on or both off);
//! - `jacov`: −Σ (log(λ + 10⁻⁵) + 1/(λ + 10⁻⁵)) over the eigenvalues λ of the correlation
//!   matrix of the input Jacobians of the minibatch;
//! - `zico`: Σ over weight tensors of log Σ mean|g|/std(g), the gradient statistics taken
//!   over the two halves of the minibatch (Li et al., ICLR 2023, with two batches).
//!
//! A proxy that is undefined for a network (no weights, a singular kernel, an overflow) is
//! left out of the metrics and its reason is given in `missing`.

use crate::compile::{compile, Skeleton};
use crate::data::Dataset;
use crate::model::{Forward, Model, Probe};
use crate::net::{Net, Shape};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::Gradients;
use burn::tensor::{Device, FloatDType, Int, Tensor, TensorData};
use hnas_eval::{EvalError, Evaluator, Metrics, TrialInfo};
use hnas_space::{Candidate, Space};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// One zero-cost proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    Params,
    Flops,
    Synflow,
    GradNorm,
    Snip,
    Naswot,
    Jacov,
    Zico,
}

/// Every proxy, in the order metrics are reported.
pub const PROXIES: [Proxy; 8] = [
    Proxy::Params,
    Proxy::Flops,
    Proxy::Synflow,
    Proxy::GradNorm,
    Proxy::Snip,
    Proxy::Naswot,
    Proxy::Jacov,
    Proxy::Zico,
];

impl Proxy {
    pub fn name(self) -> &'static str {
        match self {
            Proxy::Params => "params",
            Proxy::Flops => "flops",
            Proxy::Synflow => "synflow",
            Proxy::GradNorm => "grad_norm",
            Proxy::Snip => "snip",
            Proxy::Naswot => "naswot",
            Proxy::Jacov => "jacov",
            Proxy::Zico => "zico",
        }
    }

    pub fn parse(s: &str) -> Option<Proxy> {
        PROXIES.into_iter().find(|p| p.name() == s)
    }

    /// Whether it needs examples (and labels) rather than only the input's shape.
    pub fn needs_data(self) -> bool {
        matches!(
            self,
            Proxy::GradNorm | Proxy::Snip | Proxy::Naswot | Proxy::Jacov | Proxy::Zico
        )
    }
}

/// Proxy values of one network, and why any asked for is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    pub values: Vec<(Proxy, f64)>,
    pub missing: Vec<(Proxy, String)>,
}

impl Scores {
    pub fn get(&self, p: Proxy) -> Option<f64> {
        self.values.iter().find(|v| v.0 == p).map(|v| v.1)
    }
}

/// One minibatch: inputs `[batch, c, h, w]` as flat values, and labels.
#[derive(Debug, Clone)]
pub struct Batch {
    pub x: Vec<f32>,
    pub y: Vec<u8>,
    pub shape: Shape,
}

impl Batch {
    /// The first `n` training examples of a seeded shuffle of `data`.
    pub fn from_dataset(data: &Dataset, n: usize, seed: u64) -> Batch {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let mut order: Vec<usize> = (0..data.train.len()).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(
            seed ^ 0x9e0c_7a11,
        ));
        let numel = data.input.numel();
        let mut x = Vec::with_capacity(n * numel);
        let mut y = Vec::with_capacity(n);
        for &i in order.iter().take(n) {
            x.extend_from_slice(&data.train.x[i * numel..(i + 1) * numel]);
            y.push(data.train.y[i]);
        }
        Batch {
            x,
            y,
            shape: data.input,
        }
    }

    fn len(&self) -> usize {
        self.y.len()
    }

    fn tensors(&self, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let [c, h, w] = self.shape.chw();
        let b = self.len();
        (
            Tensor::<4>::from_data(TensorData::new(self.x.clone(), [b, c, h, w]), device),
            Tensor::<1, Int>::from_data(
                TensorData::new(self.y.iter().map(|&v| v as i64).collect::<Vec<_>>(), [b]),
                device,
            ),
        )
    }
}

fn scalar<const D: usize>(t: Tensor<D>) -> f64 {
    t.into_data().iter::<f64>().next().unwrap_or(f64::NAN)
}

/// Weights replaced by their absolute values.
struct Abs;

impl ModuleMapper for Abs {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // In double precision: the products of absolute weights overflow f32 in deep cells
        // (NAS-Bench-201's largest reach 1e36 and beyond).
        param.map(|t| t.abs().cast(FloatDType::F64).detach().require_grad())
    }
}

/// What a proxy sums over the weight tensors, given their gradients.
enum Sum {
    /// Σ θ·g (SynFlow).
    Saliency,
    /// Σ |θ·g| (SNIP).
    AbsSaliency,
    /// Σ ‖g‖₂ (grad_norm).
    GradNorm,
}

struct Summer<'a> {
    grads: &'a Gradients,
    how: Sum,
    total: f64,
    /// Weight tensors that got a gradient.
    seen: usize,
}

impl ModuleVisitor for Summer<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // Biases and normalisation scales are left out, as the proxies' reference code does:
        // weights are the tensors of two or more dimensions.
        if D < 2 {
            return;
        }
        let w = param.val();
        let Some(g) = w.grad(self.grads) else {
            return;
        };
        let w = w.inner();
        self.seen += 1;
        self.total += match self.how {
            Sum::Saliency => scalar((w * g).sum()),
            Sum::AbsSaliency => scalar((w * g).abs().sum()),
            Sum::GradNorm => scalar((g.clone() * g).sum()).sqrt(),
        };
    }
}

fn summed(model: &Model, grads: &Gradients, how: Sum) -> Result<f64, String> {
    let mut s = Summer {
        grads,
        how,
        total: 0.0,
        seen: 0,
    };
    model.visit(&mut s);
    if s.seen == 0 {
        return Err("the network has no weights on a path to its output".into());
    }
    if !s.total.is_finite() {
        return Err(format!("the sum is not finite ({})", s.total));
    }
    Ok(s.total)
}

/// The logits of `x`, with a probe into the pass if given.
fn logits(net: &Net, model: &Model, x: Tensor<4>, probe: Option<&mut Probe>) -> Tensor<2> {
    Forward {
        net,
        model,
        dropout: None,
        probe,
    }
    .logits(x)
}

/// The gradients of the cross-entropy of `batch`.
fn loss_grads(net: &Net, model: &Model, batch: &Batch, device: &Device) -> Gradients {
    let (x, y) = batch.tensors(device);
    CrossEntropyLossConfig::new()
        .init(device)
        .forward(logits(net, model, x, None), y)
        .backward()
}

/// Every asked proxy of `net`, its weights drawn with `seed`; `batch` is needed by the
/// proxies that read data.
pub fn score(net: &Net, proxies: &[Proxy], batch: Option<&Batch>, seed: u64) -> Scores {
    let mut out = Scores::default();
    let device = crate::train::device().autodiff();
    let mut put = |p: Proxy, r: Result<f64, String>| match r {
        Ok(v) => out.values.push((p, v)),
        Err(e) => out.missing.push((p, e)),
    };
    let mut loss_grads_once = None;
    for &p in proxies {
        if p.needs_data() && batch.is_none() {
            put(p, Err("needs a dataset (proxy:DATASET)".into()));
            continue;
        }
        match p {
            Proxy::Params => put(p, Ok(net.params() as f64)),
            Proxy::Flops => put(p, Ok(net.flops() as f64)),
            Proxy::Synflow => put(p, synflow(net, &device, seed)),
            Proxy::GradNorm | Proxy::Snip => {
                let (model, grads) = loss_grads_once.get_or_insert_with(|| {
                    let model = Model::init(net, &device, seed);
                    let grads = loss_grads(net, &model, batch.expect("checked"), &device);
                    (model, grads)
                });
                let how = if p == Proxy::Snip {
                    Sum::AbsSaliency
                } else {
                    Sum::GradNorm
                };
                put(p, summed(model, grads, how));
            }
            Proxy::Naswot => put(p, naswot(net, batch.expect("checked"), seed)),
            Proxy::Jacov => put(p, jacov(net, &device, batch.expect("checked"), seed)),
            Proxy::Zico => put(p, zico(net, &device, batch.expect("checked"), seed)),
        }
    }
    out
}

fn synflow(net: &Net, device: &Device, seed: u64) -> Result<f64, String> {
    let model = Model::init(net, device, seed).map(&mut Abs);
    let [c, h, w] = net.input.chw();
    let x = Tensor::<4>::ones([1, c, h, w], device).cast(FloatDType::F64);
    let mut probe = Probe {
        skip_batch_norm: true,
        ..Probe::default()
    };
    let r = logits(net, &model, x, Some(&mut probe)).sum();
    let grads = r.backward();
    let s = summed(&model, &grads, Sum::Saliency)?;
    if s <= 0.0 {
        return Err("no signal reaches the output (SynFlow is 0)".into());
    }
    Ok(s)
}

fn naswot(net: &Net, batch: &Batch, seed: u64) -> Result<f64, String> {
    let plain = crate::train::device();
    let model = Model::init(net, &plain, seed);
    let (x, _) = batch.tensors(&plain);
    let mut probe = Probe {
        record_codes: true,
        ..Probe::default()
    };
    let _ = logits(net, &model, x, Some(&mut probe));
    if probe.codes.is_empty() {
        return Err("the network has no activation layer".into());
    }
    let n = batch.len();
    // K = C Cᵀ + (1 - C)(1 - C)ᵀ = units - H, H the Hamming distances of the codes.
    let mut k = vec![0.0f64; n * n];
    for codes in probe.codes {
        let [b, u] = codes.dims();
        let c: Vec<f32> = codes.into_data().iter::<f32>().collect();
        for i in 0..b {
            for j in 0..=i {
                let (a, bb) = (&c[i * u..(i + 1) * u], &c[j * u..(j + 1) * u]);
                let agree = a.iter().zip(bb).filter(|(x, y)| x == y).count() as f64;
                k[i * n + j] += agree;
                if i != j {
                    k[j * n + i] += agree;
                }
            }
        }
    }
    log_abs_det(&mut k, n).ok_or_else(|| "the activation kernel is singular".to_string())
}

fn jacov(net: &Net, device: &Device, batch: &Batch, seed: u64) -> Result<f64, String> {
    let model = Model::init(net, device, seed);
    let (x, _) = batch.tensors(device);
    let x = x.require_grad();
    let y = logits(net, &model, x.clone(), None).sum();
    let grads = y.backward();
    let j = x
        .grad(&grads)
        .ok_or("the output does not depend on the input")?;
    let [b, c, h, w] = j.dims();
    let d = c * h * w;
    let jv: Vec<f64> = j.into_data().iter::<f64>().collect();
    let mut corr = vec![0.0; b * b];
    let rows: Vec<Vec<f64>> = (0..b)
        .map(|i| {
            let r = &jv[i * d..(i + 1) * d];
            let m = r.iter().sum::<f64>() / d as f64;
            let centered: Vec<f64> = r.iter().map(|v| v - m).collect();
            let norm = centered.iter().map(|v| v * v).sum::<f64>().sqrt();
            centered.iter().map(|v| v / norm.max(1e-30)).collect()
        })
        .collect();
    for i in 0..b {
        for k in 0..=i {
            let v: f64 = rows[i].iter().zip(&rows[k]).map(|(a, c)| a * c).sum();
            corr[i * b + k] = v;
            corr[k * b + i] = v;
        }
    }
    let eig = symmetric_eigenvalues(&mut corr, b);
    let k = 1e-5;
    let s = -eig
        .iter()
        .map(|&l| (l.max(0.0) + k).ln() + 1.0 / (l.max(0.0) + k))
        .sum::<f64>();
    if s.is_finite() {
        Ok(s)
    } else {
        Err("the Jacobian correlations are not finite".into())
    }
}

/// Every weight tensor's gradient (two or more dimensions), flattened, in visiting order.
struct Collect<'a> {
    grads: &'a Gradients,
    out: Vec<Vec<f32>>,
}

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if D < 2 {
            return;
        }
        if let Some(g) = param.val().grad(self.grads) {
            self.out.push(g.into_data().iter::<f32>().collect());
        }
    }
}

/// ZiCo (Li et al., ICLR 2023): Σ over weight tensors of log Σ mean|g| / std(g), the
/// statistics of each weight's gradient over the minibatch split in two halves.
fn zico(net: &Net, device: &Device, batch: &Batch, seed: u64) -> Result<f64, String> {
    if batch.len() < 4 {
        return Err("needs a batch of at least 4 (two halves)".into());
    }
    let model = Model::init(net, device, seed);
    let half = batch.len() / 2;
    let numel = batch.shape.numel();
    let halves = [(0, half), (half, 2 * half)];
    let mut per_half = Vec::new();
    for (a, b) in halves {
        let part = Batch {
            x: batch.x[a * numel..b * numel].to_vec(),
            y: batch.y[a..b].to_vec(),
            shape: batch.shape,
        };
        let grads = loss_grads(net, &model, &part, device);
        let mut c = Collect {
            grads: &grads,
            out: Vec::new(),
        };
        model.visit(&mut c);
        per_half.push(c.out);
    }
    let (g1, g2) = (&per_half[0], &per_half[1]);
    if g1.is_empty() || g1.len() != g2.len() {
        return Err("the network has no weights on a path to its output".into());
    }
    let mut total = 0.0;
    let mut layers = 0;
    for (a, b) in g1.iter().zip(g2) {
        let mut s = 0.0f64;
        for (&x, &y) in a.iter().zip(b) {
            let (x, y) = (x as f64, y as f64);
            let sd = (x - y).abs() / 2.0;
            if sd > 0.0 {
                s += (x.abs() + y.abs()) / 2.0 / sd;
            }
        }
        if s > 0.0 {
            total += s.ln();
            layers += 1;
        }
    }
    if layers == 0 {
        return Err("no weight's gradient varies over the batch".into());
    }
    Ok(total)
}

/// log |det A| by Gaussian elimination with partial pivoting; `None` when A is singular.
pub fn log_abs_det(a: &mut [f64], n: usize) -> Option<f64> {
    let mut total = 0.0;
    for col in 0..n {
        let piv =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        let p = a[piv * n + col];
        if p.abs() < 1e-12 {
            return None;
        }
        if piv != col {
            for k in 0..n {
                a.swap(piv * n + k, col * n + k);
            }
        }
        total += p.abs().ln();
        for r in col + 1..n {
            let f = a[r * n + col] / p;
            if f != 0.0 {
                for k in col..n {
                    a[r * n + k] -= f * a[col * n + k];
                }
            }
        }
    }
    Some(total)
}

/// Eigenvalues of a symmetric n×n matrix by cyclic Jacobi rotations.
pub fn symmetric_eigenvalues(a: &mut [f64], n: usize) -> Vec<f64> {
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| a[i * n + i]).collect()
}

/// Where the `proxy:` evaluator's inputs come from.
enum Input {
    /// A dataset, read as `train:` reads it (all of its training split).
    Data(Box<crate::evaluator::TrainEvaluator>),
    /// Only a shape and a class count: data-free proxies only.
    Shape(Shape, usize),
}

/// The `proxy:` evaluator: zero-cost proxies of a compiled candidate as its metrics.
pub struct ProxyEvaluator {
    name: String,
    input: Input,
    pub proxies: Vec<Proxy>,
    pub batch: usize,
    pub seed: u64,
    pub skeleton: Skeleton,
    /// Networks of the space drawn to rank against for `aggregate` (0: no aggregate).
    pub reference: usize,
    /// The proxies `aggregate` averages the ranks of.
    pub aggregate: Vec<Proxy>,
    /// The minibatch the data proxies read, drawn once.
    batch_data: OnceLock<Batch>,
    /// Per space (by its text's hash): each reference network's value of each proxy of
    /// `aggregate`, sorted per proxy.
    references: Mutex<HashMap<u64, Arc<Vec<Vec<f64>>>>>,
    /// With `train_epochs=N`: the fidelity ladder proxies (fidelity 0) → standalone training
    /// at 1, 3, 9, .. N epochs.
    pub ladder: Option<Box<crate::evaluator::TrainEvaluator>>,
}

/// What the proxies cost at the bottom of a ladder, in training epochs of the candidate
/// (51 ms for all proxies against about 1.5 s per epoch on MNIST-1D; docs/benchmarks.md).
const PROXY_COST_EPOCHS: f64 = 0.03;

/// The metrics a ladder adds: the objective's stand-in at fidelity 0, and the epochs trained.
pub const LADDER_METRICS: [&str; 2] = ["accuracy", "epochs"];

impl ProxyEvaluator {
    /// Parses what follows `proxy:`: a dataset as `train:` names it (`mnist1d`,
    /// `fashion-mnist`, `idx:DIR`, `csv:FILE`) or `shape=CxHxW` (data-free proxies only),
    /// then options `,proxies=a+b+..,batch=N,seed=N,classes=N,channels=N,cells=N`.
    pub fn parse(spec: &str) -> Result<ProxyEvaluator, EvalError> {
        let name = format!("proxy:{spec}");
        let fatal = |m: String| EvalError::Fatal(format!("evaluator '{name}': {m}"));
        let mut parts = spec.split(',');
        let head = parts.next().unwrap_or_default();
        let mut shape = None;
        let mut dataset = None;
        if let Some(s) = head.strip_prefix("shape=") {
            shape = Some(parse_shape(s).ok_or_else(|| {
                fatal(format!(
                    "shape `{s}`: expected CxHxW (3x32x32) or CxL (1x40)"
                ))
            })?);
        } else {
            let mut t = crate::evaluator::TrainEvaluator::parse(head)?;
            t.train_size = None;
            dataset = Some(Box::new(t));
        }
        let mut ev = ProxyEvaluator {
            name: name.clone(),
            input: Input::Shape(Shape::Flat { f: 1 }, 1),
            proxies: Vec::new(),
            batch: 64,
            seed: 0,
            skeleton: Skeleton::default(),
            reference: 100,
            aggregate: Vec::new(),
            batch_data: OnceLock::new(),
            references: Mutex::new(HashMap::new()),
            ladder: None,
        };
        let mut train_epochs = None;
        let mut passed = vec![head.to_string()];
        let mut aggregate: Option<Vec<Proxy>> = None;
        let mut classes = 10;
        let mut proxies: Option<Vec<Proxy>> = None;
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
                "batch" => ev.batch = count()?,
                "seed" => {
                    ev.seed = v
                        .parse()
                        .map_err(|_| fatal(format!("option seed: `{v}`")))?
                }
                "classes" => classes = count()?,
                "channels" => {
                    ev.skeleton.channels = count()?;
                    passed.push(p.to_string());
                }
                "cells" => {
                    ev.skeleton.cells = count()?;
                    passed.push(p.to_string());
                }
                "train_epochs" => train_epochs = Some(count()?),
                // Settings of the standalone training of a ladder's upper rungs.
                "lr" | "optimizer" | "momentum" | "weight_decay" | "train_size"
                | "label_smoothing" | "train_batch" => {
                    passed.push(p.replace("train_batch=", "batch="));
                }
                "reference" => {
                    ev.reference = v
                        .parse()
                        .map_err(|_| fatal(format!("option reference: expected a count, found `{v}`")))?
                }
                "aggregate" | "proxies" => {
                    let list = v
                        .split('+')
                        .map(|n| {
                            Proxy::parse(n).ok_or_else(|| {
                                fatal(format!(
                                    "unknown proxy `{n}`; expected some of: {} (joined with +)",
                                    PROXIES.map(Proxy::name).join(", ")
                                ))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    if k == "aggregate" {
                        aggregate = Some(list);
                    } else {
                        proxies = Some(list);
                    }
                }
                _ => {
                    return Err(fatal(format!(
                        "unknown option `{k}` (proxies, aggregate, reference, batch, seed, classes, channels, cells, train_epochs, lr, optimizer, momentum, weight_decay, train_size, label_smoothing, train_batch)"
                    )))
                }
            }
        }
        ev.input = match (shape, dataset) {
            (Some(s), _) => Input::Shape(s, classes),
            (None, Some(d)) => Input::Data(d),
            (None, None) => unreachable!("a head is a shape or a dataset"),
        };
        let data_free = matches!(ev.input, Input::Shape(..));
        ev.proxies = match proxies {
            Some(l) => l,
            None if data_free => PROXIES.into_iter().filter(|p| !p.needs_data()).collect(),
            None => PROXIES.to_vec(),
        };
        if data_free {
            if let Some(p) = ev.proxies.iter().find(|p| p.needs_data()) {
                return Err(fatal(format!(
                    "proxy `{}` reads examples; with shape= only params, flops and synflow are defined",
                    p.name()
                )));
            }
        }
        if let Some(n) = train_epochs {
            if data_free {
                return Err(fatal(
                    "train_epochs trains the candidates above the proxies, which needs a dataset, not shape=".into(),
                ));
            }
            if ev.reference == 0 {
                return Err(fatal(
                    "train_epochs ranks the bottom rung by `aggregate`, which reference=0 turns off".into(),
                ));
            }
            let t =
                crate::evaluator::TrainEvaluator::for_ladder(&passed, Some(n)).map_err(fatal)?;
            ev.ladder = Some(Box::new(t));
        } else if passed.len()
            > 1 + passed
                .iter()
                .filter(|p| p.starts_with("channels=") || p.starts_with("cells="))
                .count()
        {
            return Err(fatal(
                "training options (lr, optimizer, .., train_batch) need train_epochs=N: they set the training of a ladder's upper rungs".into(),
            ));
        }
        ev.aggregate = aggregate.unwrap_or_else(|| ev.proxies.clone());
        if let Some(p) = ev.aggregate.iter().find(|p| !ev.proxies.contains(p)) {
            return Err(fatal(format!(
                "aggregate names `{}`, which is not among the proxies computed",
                p.name()
            )));
        }
        if ev.batch < 2
            && ev
                .proxies
                .iter()
                .any(|p| matches!(p, Proxy::Naswot | Proxy::Jacov))
        {
            return Err(fatal(
                "naswot and jacov compare examples: batch must be at least 2".into(),
            ));
        }
        Ok(ev)
    }

    fn frame(&self) -> Result<(Shape, usize, Option<Batch>), EvalError> {
        match &self.input {
            Input::Shape(s, k) => Ok((*s, *k, None)),
            Input::Data(t) => {
                let d = t
                    .dataset()
                    .map_err(|e| EvalError::Fatal(format!("{}: {e}", self.name)))?;
                let b = self
                    .batch_data
                    .get_or_init(|| Batch::from_dataset(&d, self.batch, self.seed));
                Ok((d.input, d.classes, Some(b.clone())))
            }
        }
    }
}

impl ProxyEvaluator {
    /// The reference networks' proxy values for `space`, drawn and scored on first use.
    fn reference_of(&self, space: &Space) -> Result<Arc<Vec<Vec<f64>>>, EvalError> {
        use rand::SeedableRng;
        use rayon::prelude::*;
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            space.source().hash(&mut h);
            h.finish()
        };
        if let Some(r) = self
            .references
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(r.clone());
        }
        let (input, classes, batch) = self.frame()?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed ^ 0x5eed_5eed);
        let nets: Vec<Net> = (0..self.reference * 4)
            .map(|_| space.sample(&mut rng, space.search_mode()))
            .filter_map(|c| compile(&space.to_json(&c), input, classes, self.skeleton).ok())
            .take(self.reference)
            .map(|c| c.net)
            .collect();
        let scores: Vec<Scores> = nets
            .par_iter()
            .map(|n| score(n, &self.aggregate, batch.as_ref(), self.seed))
            .collect();
        let per_proxy: Vec<Vec<f64>> = self
            .aggregate
            .iter()
            .map(|&p| {
                let mut v: Vec<f64> = scores.iter().filter_map(|s| s.get(p)).collect();
                v.sort_by(f64::total_cmp);
                v
            })
            .collect();
        let r = Arc::new(per_proxy);
        self.references
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, r.clone());
        Ok(r)
    }
}

fn parse_shape(s: &str) -> Option<Shape> {
    let d: Vec<usize> = s
        .split('x')
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    match d[..] {
        [c, h, w] if c > 0 && h > 0 && w > 0 => Some(Shape::Image { c, h, w }),
        [c, l] if c > 0 && l > 0 => Some(Shape::Seq { c, l }),
        _ => None,
    }
}

impl Evaluator for ProxyEvaluator {
    fn name(&self) -> &str {
        &self.name
    }

    fn metrics(&self) -> Vec<String> {
        let mut m: Vec<String> = self.proxies.iter().map(|p| p.name().to_string()).collect();
        if self.reference > 0 && !self.aggregate.is_empty() {
            m.push("aggregate".into());
        }
        if let Some(t) = &self.ladder {
            for x in t
                .metrics()
                .into_iter()
                .chain(LADDER_METRICS.map(String::from))
            {
                if !m.contains(&x) {
                    m.push(x);
                }
            }
        }
        m
    }

    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
    ) -> Result<Metrics, EvalError> {
        match &self.ladder {
            Some(t) if fidelity.is_some_and(|f| f >= 1.0) => t.evaluate(space, c, fidelity),
            Some(_) => {
                let mut m = self.proxies_of(space, c)?;
                // The bottom rung compares candidates by the objective: there the proxies'
                // aggregate (a rank in [0, 1], like an accuracy fraction) stands in for it.
                let agg = m.get("aggregate").copied().ok_or_else(|| {
                    EvalError::Failed(
                        "no proxy of the aggregate is defined for this network".into(),
                    )
                })?;
                m.insert("accuracy".into(), agg);
                m.insert("epochs".into(), 0.0);
                Ok(m)
            }
            None => self.proxies_of(space, c),
        }
    }

    fn evaluate_trial(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
        trial: &TrialInfo,
    ) -> Result<Metrics, EvalError> {
        match &self.ladder {
            Some(t) if fidelity.is_some_and(|f| f >= 1.0) => {
                t.evaluate_trial(space, c, fidelity, trial)
            }
            _ => self.evaluate(space, c, fidelity),
        }
    }

    fn check_space(&self, space: &Space) -> Result<(), EvalError> {
        match &self.ladder {
            Some(t) => t.check_space(space),
            None => Ok(()),
        }
    }

    fn cost(&self, fidelity: Option<f64>) -> f64 {
        match &self.ladder {
            Some(t) if fidelity.is_some_and(|f| f >= 1.0) => t.cost(fidelity),
            Some(_) => PROXY_COST_EPOCHS,
            None => 1.0,
        }
    }

    /// Without a ladder the fidelity means nothing; with one: 0 (the proxies), then the
    /// standalone rungs 1, 3, 9, .. up to `train_epochs`.
    fn fidelities(&self) -> Vec<f64> {
        match &self.ladder {
            Some(t) => {
                let mut f = vec![0.0];
                f.extend(t.fidelities());
                f
            }
            None => Vec::new(),
        }
    }

    fn cost_unit(&self) -> &str {
        if self.ladder.is_some() {
            "epochs"
        } else {
            "evaluations"
        }
    }
}

impl ProxyEvaluator {
    /// The proxies of `c` (and their aggregate) as metrics.
    fn proxies_of(&self, space: &Space, c: &Candidate) -> Result<Metrics, EvalError> {
        let (input, classes, batch) = self.frame()?;
        let compiled = compile(&space.to_json(c), input, classes, self.skeleton)
            .map_err(|e| EvalError::Failed(format!("invalid network: {e}")))?;
        let s = score(&compiled.net, &self.proxies, batch.as_ref(), self.seed);
        if self.reference > 0 && !self.aggregate.is_empty() {
            let reference = self.reference_of(space)?;
            let ranks: Vec<f64> = self
                .aggregate
                .iter()
                .zip(reference.iter())
                .filter_map(|(&p, sorted)| {
                    let v = s.get(p)?;
                    if sorted.is_empty() {
                        return None;
                    }
                    let below = sorted.partition_point(|&r| r < v) as f64;
                    let equal = sorted[sorted.partition_point(|&r| r < v)..]
                        .iter()
                        .take_while(|&&r| r == v)
                        .count() as f64;
                    Some((below + 0.5 * equal) / sorted.len() as f64)
                })
                .collect();
            if !ranks.is_empty() {
                // Stored under its own name: `Scores` holds proxies only.
                let agg = ranks.iter().sum::<f64>() / ranks.len() as f64;
                let mut m: Metrics = s
                    .values
                    .iter()
                    .map(|(p, v)| (p.name().to_string(), *v))
                    .collect();
                m.insert("aggregate".into(), agg);
                return Ok(m);
            }
        }
        if s.values.is_empty() {
            let why: Vec<String> = s
                .missing
                .iter()
                .map(|(p, e)| format!("{}: {e}", p.name()))
                .collect();
            return Err(EvalError::Failed(format!(
                "no proxy is defined for this network ({})",
                why.join("; ")
            )));
        }
        Ok(s.values
            .iter()
            .map(|(p, v)| (p.name().to_string(), *v))
            .collect())
    }
}
