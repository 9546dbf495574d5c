//! Differentiable architecture search over a cell space (the DARTS family).
//!
//! Every edge of the cell computes all of its options and sums them, weighted by the softmax of
//! architecture parameters α (one row per edge, shared by every copy of the cell in the
//! skeleton). The network's weights live in a [`Supernet`] pool, so they are the weights one-shot
//! scoring uses. Training alternates a step of the weights on one half of the training split
//! with a step of α on the other half (first-order DARTS). Methods:
//! - `darts`: the plain softmax relaxation (Liu et al., first order);
//! - `gdas`: one option per edge sampled by Gumbel-softmax each step, the straight-through
//!   gradient reaching α (Dong & Yang), annealed from τ = 10 to 0.1;
//! - `beta`: DARTS with β-decay regularization of α (Ye et al.: λ·mean over edges of
//!   logsumexp(α), λ rising linearly to `beta`), which keeps α from saturating on the
//!   parameter-free options;
//! - `pc`: PC-DARTS (Xu et al.): each edge mixes its options over the first 1/K of its
//!   channels only, the rest passing by, then shuffles the channels in K groups so that
//!   every channel takes part over the cell's depth; and edge normalization: each edge's
//!   output is weighted by a softmax, over the edges into the same node, of its own
//!   parameter, learnt with α. The options' weights for the narrow channels are the
//!   supernet's units of that shape (a network of the skeleton at 1/K of its width).
//!
//! The cell is then read off by `argmax` of α per edge, or by perturbation (Wang et al.): edge
//! by edge in a random order, the option whose removal from the mixture costs the most
//! accuracy on the α half is kept, and the weights are tuned for a few steps before the next edge.

use crate::compile::Skeleton;
use crate::data::{Dataset, Split};
use crate::model::{Forward, Model};
use crate::net::{Layer, Node};
use crate::supernet::{Supernet, SupernetConfig};
use crate::train::{self, batch_tensors};
use crate::Compiled;
use burn::module::{Module, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use hnas_space::AltKind;
use hnas_space::Space;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// The relaxation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Darts,
    Gdas,
    Beta,
    Pc,
}

impl Method {
    pub fn from_name(s: &str) -> Option<Method> {
        match s {
            "darts" => Some(Method::Darts),
            "gdas" => Some(Method::Gdas),
            "beta" | "beta-darts" => Some(Method::Beta),
            "pc" | "pc-darts" => Some(Method::Pc),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::Darts => "darts",
            Method::Gdas => "gdas",
            Method::Beta => "beta",
            Method::Pc => "pc",
        }
    }
}

/// How the final cell is read off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    Argmax,
    Perturb,
}

impl Selection {
    pub fn from_name(s: &str) -> Option<Selection> {
        match s {
            "argmax" => Some(Selection::Argmax),
            "perturb" | "perturbation" => Some(Selection::Perturb),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Selection::Argmax => "argmax",
            Selection::Perturb => "perturb",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DartsConfig {
    pub method: Method,
    pub selection: Selection,
    pub epochs: usize,
    pub batch: usize,
    /// The weights' learning rate (Adam, cosine schedule).
    pub lr: f64,
    /// α's learning rate (Adam with β₁ = 0.5 and weight decay 1e-3, as DARTS).
    pub arch_lr: f64,
    /// β-decay's final λ (`beta` only).
    pub beta: f64,
    /// PC-DARTS's K: an edge's options see 1/K of its channels (`pc` only).
    pub partial: usize,
    /// Weight steps between two edges' decisions in perturbation selection.
    pub tune_steps: usize,
    /// Examples of the α half that perturbation selection measures accuracy on.
    pub select_examples: usize,
    pub seed: u64,
}

impl Default for DartsConfig {
    fn default() -> Self {
        DartsConfig {
            method: Method::Darts,
            selection: Selection::Argmax,
            epochs: 10,
            batch: 64,
            lr: 0.005,
            arch_lr: 0.003,
            beta: 1.0,
            partial: 4,
            tune_steps: 10,
            select_examples: 500,
            seed: 0,
        }
    }
}

/// What a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct DartsResult {
    /// The options of every edge, in the space's order.
    pub options: Vec<String>,
    /// The cell's edges `(from, to)`, in the candidate's order.
    pub edges: Vec<(u32, u32)>,
    /// softmax(α) per edge after training.
    pub weights: Vec<Vec<f64>>,
    /// The option chosen for each edge.
    pub chosen: Vec<usize>,
    /// The found cell as a candidate of the space (its one-line form).
    pub cell: String,
    /// Share of edges whose option is the space's `zero` or `identity` operation.
    pub parameter_free: f64,
    /// Mean training loss of the weights per epoch.
    pub losses: Vec<f64>,
    /// Mean loss of the α steps per epoch (on the α half, before each step).
    pub arch_losses: Vec<f64>,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DartsError {
    /// The space is not a cell DARTS can relax.
    #[error("{0}")]
    Unsupported(String),
    #[error("DARTS diverged: loss {0}")]
    Diverged(f64),
}

#[derive(Module, Debug)]
struct Arch {
    alpha: Param<Tensor<2>>,
    /// PC-DARTS's edge normalization: one parameter per edge, `[1, edges]`.
    edge: Param<Tensor<2>>,
}

/// The cell structure of a space DARTS can relax: a DAG at the root, one input, an edge
/// between every pair of nodes, each edge choosing among bare operations.
struct Cell {
    edges: Vec<(u32, u32)>,
    options: Vec<String>,
    parameter_free: Vec<bool>,
}

fn cell_of(space: &Space) -> Result<Cell, DartsError> {
    let g = space.grammar();
    let root = &g.rules[g.start];
    let unsupported = |m: String| {
        Err(DartsError::Unsupported(format!(
            "space {}: {m}",
            space.file_name()
        )))
    };
    let [alt] = root.alts.as_slice() else {
        return unsupported(format!(
            "DARTS relaxes a cell: the start rule `{}` must be one dag(...), not {} alternatives",
            root.name,
            root.alts.len()
        ));
    };
    let AltKind::Dag(d) = &alt.kind else {
        return unsupported(format!(
            "DARTS relaxes a cell: the start rule `{}` must be a dag(...)",
            root.name
        ));
    };
    if d.inputs != 1 || d.fan_in.is_some() {
        return unsupported(format!(
            "rule `{}`: DARTS here relaxes cells of one input with an edge between every pair \
             of nodes (NAS-Bench-201 style); this dag has inputs = {}{}",
            root.name,
            d.inputs,
            d.fan_in
                .map(|f| format!(", fan_in = {f}"))
                .unwrap_or_default()
        ));
    }
    let edge_rule = &g.rules[d.edge];
    let mut options = Vec::new();
    for a in &edge_rule.alts {
        match &a.kind {
            AltKind::Op { name, args } if args.is_empty() => options.push(name.clone()),
            AltKind::Op { name, .. } => {
                return unsupported(format!(
                    "rule `{}`: option `{name}` has arguments; DARTS mixes bare operations, \
                     one weight per option",
                    edge_rule.name
                ))
            }
            _ => {
                return unsupported(format!(
                    "rule `{}`: every option must be a bare operation for DARTS to mix",
                    edge_rule.name
                ))
            }
        }
    }
    if options.len() < 2 {
        return unsupported(format!(
            "rule `{}` has one option: nothing to search",
            edge_rule.name
        ));
    }
    let parameter_free = options
        .iter()
        .map(|o| d.zero.as_deref() == Some(o) || d.identity.as_deref() == Some(o))
        .collect();
    let mut edges = Vec::new();
    for j in 1..d.nodes {
        for i in 0..j {
            edges.push((i, j));
        }
    }
    Ok(Cell {
        edges,
        options,
        parameter_free,
    })
}

fn cell_line(edges: &[(u32, u32)], ops: &[&str]) -> String {
    let parts: Vec<String> = edges
        .iter()
        .zip(ops)
        .map(|((i, j), o)| format!("{i}>{j}:{o}"))
        .collect();
    format!("dag({})", parts.join(","))
}

/// Pre-order list of the DAG cells in a network.
fn dags(n: &Node) -> Vec<&Node> {
    let mut out = Vec::new();
    fn walk<'a>(n: &'a Node, out: &mut Vec<&'a Node>) {
        match &n.layer {
            Layer::Dag { .. } => out.push(n),
            Layer::Seq(v) => v.iter().for_each(|k| walk(k, out)),
            Layer::Residual { body, proj } => {
                walk(body, out);
                if let Some(p) = proj {
                    walk(p, out);
                }
            }
            Layer::Parallel { branches, .. } => branches.iter().for_each(|k| walk(k, out)),
            _ => {}
        }
    }
    walk(n, &mut out);
    out
}

/// How each edge mixes its options in one forward pass: per edge, (option, weight) pairs; an
/// option absent is not computed.
type Mix = Vec<Vec<(usize, Tensor<4>)>>;

/// The relaxed network: the all-option-k networks share their skeleton; their cells' edges are
/// the options.
struct Relaxed {
    /// The all-option-k networks, then for PC-DARTS the same at 1/K of the width.
    nets: Vec<Compiled>,
    slots: Vec<Vec<usize>>,
    edges: Vec<(u32, u32)>,
    /// The network whose skeleton is walked: one with an edge in every place (a compiled
    /// cell leaves out its `zero` edges).
    skeleton: usize,
    /// Options per edge.
    options: usize,
    /// PC-DARTS's K: option k of an edge runs on its first 1/K channels, in `nets[options + k]`.
    partial: Option<usize>,
}

impl Relaxed {
    /// Logits of the mixed network; `models[k]` holds the weights of `nets[k]`; `edge_w`
    /// (PC-DARTS) each edge's normalized weight, `[1, edges]`.
    fn logits(
        &self,
        models: &[Model],
        mix: &Mix,
        edge_w: Option<&Tensor<2>>,
        x: Tensor<4>,
    ) -> Tensor<2> {
        let per_k: Vec<Vec<&Node>> = self.nets.iter().map(|c| dags(&c.net.body)).collect();
        let mut counter = 0;
        let y = self.run(
            &self.nets[self.skeleton].net.body,
            (models, mix, edge_w),
            &per_k,
            &mut counter,
            x,
        );
        let [b, c, _, _] = y.dims();
        y.reshape([b, c])
    }

    fn run(
        &self,
        n: &Node,
        weights: (&[Model], &Mix, Option<&Tensor<2>>),
        per_k: &[Vec<&Node>],
        counter: &mut usize,
        x: Tensor<4>,
    ) -> Tensor<4> {
        let (models, mix, edge_w) = weights;
        match &n.layer {
            Layer::Seq(v) => v
                .iter()
                .fold(x, |acc, k| self.run(k, weights, per_k, counter, acc)),
            Layer::Residual { body, proj } => {
                let skip = match proj {
                    Some(p) => self.run(p, weights, per_k, counter, x.clone()),
                    None => x.clone(),
                };
                self.run(body, weights, per_k, counter, x) + skip
            }
            Layer::Dag { nodes, .. } => {
                let cell = *counter;
                *counter += 1;
                let mut vals: Vec<Option<Tensor<4>>> = vec![None; *nodes];
                vals[0] = Some(x.clone());
                for (e, &(from, to)) in self.edges.iter().enumerate() {
                    let (from, to) = (from as usize, to as usize);
                    let input = vals[from].clone().unwrap_or_else(|| x.zeros_like());
                    // PC-DARTS: the options see the first 1/K channels; the rest pass by.
                    let (input, rest) = match self.partial {
                        Some(p) => {
                            let [b, c, h, w] = input.dims();
                            let part = c / p;
                            (
                                input.clone().slice([0..b, 0..part, 0..h, 0..w]),
                                Some((input.slice([0..b, part..c, 0..h, 0..w]), p)),
                            )
                        }
                        None => (input, None),
                    };
                    let mut y: Option<Tensor<4>> = None;
                    for (k, w) in &mix[e] {
                        let k = &match self.partial {
                            Some(_) => self.options + k,
                            None => *k,
                        };
                        let Layer::Dag { edges: ek, .. } = &per_k[*k][cell].layer else {
                            unreachable!("the all-k networks share their skeleton")
                        };
                        // Absent: the space's zero operation, which adds nothing.
                        let Some(edge) = ek.iter().find(|d| d.from == from && d.to == to) else {
                            continue;
                        };
                        let out = Forward {
                            net: &self.nets[*k].net,
                            model: &models[*k],
                            dropout: None,
                            probe: None,
                        }
                        .run(&edge.op, input.clone())
                            * w.clone();
                        y = Some(match y {
                            Some(acc) => acc + out,
                            None => out,
                        });
                    }
                    if let Some((rest, groups)) = rest {
                        let part = y.unwrap_or_else(|| input.zeros_like());
                        y = Some(shuffle(Tensor::cat(vec![part, rest], 1), groups));
                    }
                    if let Some(ew) = edge_w {
                        y = y.map(|v| v * scalar(ew.clone(), 0, e));
                    }
                    if let Some(y) = y {
                        vals[to] = Some(match vals[to].take() {
                            Some(acc) => acc + y,
                            None => y,
                        });
                    }
                }
                vals[*nodes - 1].take().unwrap_or_else(|| x.zeros_like())
            }
            _ => Forward {
                net: &self.nets[self.skeleton].net,
                model: &models[self.skeleton],
                dropout: None,
                probe: None,
            }
            .run(n, x),
        }
    }
}

/// Channel shuffle in `groups` groups (ShuffleNet's, as PC-DARTS uses it): channel `g·n + i`
/// moves to `i·groups + g`, so that channels set aside at one edge are mixed at the next.
fn shuffle(x: Tensor<4>, groups: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, groups, c / groups, h, w])
        .swap_dims(1, 2)
        .reshape([b, c, h, w])
}

/// PC-DARTS's edge normalization: each edge's weight is the softmax of its parameter over
/// the edges into the same node (`same[i][j]` = 1 when edges i and j end at one node).
fn edge_weights(edge: Tensor<2>, same: &Tensor<2>) -> Tensor<2> {
    // The largest parameter is subtracted for stability; a softmax does not change.
    let ex = (edge.clone() - edge.max_dim(1).detach()).exp();
    ex.clone() / ex.matmul(same.clone())
}

/// The union of the slots every option uses, and each option's model view into it.
fn views(relaxed: &Relaxed, pool: &Model) -> (Vec<usize>, Model, Vec<Model>) {
    let mut union: Vec<usize> = relaxed.slots.iter().flatten().copied().collect();
    union.sort_unstable();
    union.dedup();
    let all = Model {
        units: union.iter().map(|&i| pool.units[i].clone()).collect(),
    };
    let models = relaxed
        .slots
        .iter()
        .map(|s| Model {
            units: s
                .iter()
                .map(|i| all.units[union.binary_search(i).expect("in union")].clone())
                .collect(),
        })
        .collect();
    (union, all, models)
}

fn scalar(w: Tensor<2>, e: usize, k: usize) -> Tensor<4> {
    w.slice([e..e + 1, k..k + 1]).reshape([1, 1, 1, 1])
}

fn halves(split: &Split, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..split.len()).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x4a1f));
    let b = idx.split_off(split.len() / 2);
    (idx, b)
}

/// Called after each epoch with the epoch (from 1), the weights' mean loss and softmax(α).
pub type Progress<'a> = dyn FnMut(usize, f64, &[Vec<f64>]) + 'a;

/// Runs a DARTS-family search on a cell space; the found cell is a candidate of `space`.
pub fn search(
    space: &Space,
    data: &Dataset,
    skeleton: Skeleton,
    cfg: &DartsConfig,
    progress: &mut Progress<'_>,
) -> Result<DartsResult, DartsError> {
    let start = Instant::now();
    let cell = cell_of(space)?;
    let (e_n, k_n) = (cell.edges.len(), cell.options.len());
    let sn_cfg = SupernetConfig {
        // The relaxation runs shared units whole: a cell's edges have one shape each, and
        // PC-DARTS's narrow options keep weights of their own.
        share: crate::supernet::Share::Shape,
        epochs: cfg.epochs,
        batch: cfg.batch,
        lr: cfg.lr,
        seed: cfg.seed,
        ..SupernetConfig::default()
    };
    let mut pool = Supernet::new(space, data, skeleton, sn_cfg)
        .map_err(|e| DartsError::Unsupported(e.to_string()))?;
    // The all-option-k cells, compiled in the skeleton (and for PC-DARTS again at 1/K of its
    // width: the options' weights on the narrow channels; only their cells' edges are run).
    let trees = cell
        .options
        .iter()
        .map(|o| {
            let line = cell_line(&cell.edges, &vec![o.as_str(); e_n]);
            let c = space.parse_candidate(&line).map_err(|e| {
                DartsError::Unsupported(format!("the cell `{line}` is not in the space: {e}"))
            })?;
            Ok(space.to_json(&c))
        })
        .collect::<Result<Vec<_>, DartsError>>()?;
    let compile_all = |sk: Skeleton, at: &str| -> Result<Vec<Compiled>, DartsError> {
        cell.options
            .iter()
            .zip(&trees)
            .map(|(o, tree)| {
                crate::compile::compile(tree, data.input, data.classes, sk).map_err(|e| {
                    DartsError::Unsupported(format!("option `{o}` {at}: invalid network: {e}"))
                })
            })
            .collect()
    };
    let mut nets = compile_all(skeleton, "on every edge")?;
    let options = nets.len();
    let skeleton_at = (0..nets.len())
        .max_by_key(
            |&k| match dags(&nets[k].net.body).first().map(|n| &n.layer) {
                Some(Layer::Dag { edges, .. }) => edges.len(),
                _ => 0,
            },
        )
        .expect("options");
    let partial = (cfg.method == Method::Pc).then_some(cfg.partial);
    if let Some(p) = partial {
        if p < 1 || !skeleton.channels.is_multiple_of(p) {
            return Err(DartsError::Unsupported(format!(
                "PC-DARTS with K = {p} needs the skeleton's channels ({}) to be a multiple of K",
                skeleton.channels
            )));
        }
        let narrow = Skeleton {
            channels: skeleton.channels / p,
            ..skeleton
        };
        nets.extend(compile_all(narrow, &format!("at 1/{p} of the channels"))?);
    }
    let slots = nets.iter().map(|c| pool.slots(c)).collect();
    let relaxed = Relaxed {
        nets,
        slots,
        edges: cell.edges.clone(),
        skeleton: skeleton_at,
        options,
        partial,
    };
    let device: Device = pool.device.clone();
    let arch_init = {
        // DARTS starts α at 1e-3 · N(0, 1): nearly uniform, ties broken by the seed.
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xa1fa);
        let v: Vec<f32> = (0..e_n * k_n)
            .map(|_| 1e-3 * (rng.random::<f32>() - 0.5))
            .collect();
        Tensor::<2>::from_data(TensorData::new(v, [e_n, k_n]), &device)
    };
    let mut arch = Arch {
        alpha: Param::from_tensor(arch_init),
        edge: Param::from_tensor(Tensor::zeros([1, e_n], &device)),
    };
    // Which edges end at one node, for edge normalization.
    let same = {
        let v: Vec<f32> = (0..e_n * e_n)
            .map(|ij| f32::from(cell.edges[ij / e_n].1 == cell.edges[ij % e_n].1))
            .collect();
        Tensor::<2>::from_data(TensorData::new(v, [e_n, e_n]), &device)
    };
    let edge_w = |arch: &Arch| partial.map(|_| edge_weights(arch.edge.val(), &same));
    let mut w_optim = train::optimizer(crate::Optim::Adam, 0.0, 0.0);
    let mut a_optim: ModuleOptimizer = AdamConfig::new()
        .with_beta_1(0.5)
        .with_weight_decay(Some(WeightDecayConfig { penalty: 1e-3 }))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let (w_half, a_half) = halves(&data.train, cfg.seed);
    let dims = data.input.chw();
    let batch = cfg.batch.max(1);
    let steps_per_epoch = w_half.len().div_ceil(batch).max(1);
    let total = (steps_per_epoch * cfg.epochs).max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut losses = Vec::new();
    let mut arch_losses = Vec::new();
    let mut t = 0usize;

    let mix_of = |arch: &Arch, t: usize, rng: &mut ChaCha8Rng, fixed: &[Option<usize>]| -> Mix {
        let alpha = arch.alpha.val();
        match cfg.method {
            Method::Darts | Method::Beta | Method::Pc => {
                let w = softmax(alpha, 1);
                (0..e_n)
                    .map(|e| match fixed[e] {
                        Some(k) => vec![(k, Tensor::ones([1, 1, 1, 1], &device))],
                        None => (0..k_n).map(|k| (k, scalar(w.clone(), e, k))).collect(),
                    })
                    .collect()
            }
            Method::Gdas => {
                let tau = 10.0 * (0.1f64 / 10.0).powf(t as f64 / total as f64);
                let g: Vec<f32> = (0..e_n * k_n)
                    .map(|_| {
                        let u = rng.random::<f64>().clamp(1e-10, 1.0 - 1e-10);
                        -(-u.ln()).ln() as f32
                    })
                    .collect();
                let g = Tensor::<2>::from_data(TensorData::new(g, [e_n, k_n]), &device);
                let soft = softmax((alpha + g).div_scalar(tau), 1);
                let vals: Vec<f32> = soft
                    .clone()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap_or_default();
                (0..e_n)
                    .map(|e| match fixed[e] {
                        Some(k) => vec![(k, Tensor::ones([1, 1, 1, 1], &device))],
                        None => {
                            let row = &vals[e * k_n..(e + 1) * k_n];
                            let k = (0..k_n)
                                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                                .expect("options");
                            let s = scalar(soft.clone(), e, k);
                            // Value 1, gradient of the soft weight: straight-through.
                            vec![(k, s.clone() - s.detach() + 1.0)]
                        }
                    })
                    .collect()
            }
        }
    };

    let free = vec![None; e_n];
    let weight_step = |arch: &Arch,
                       w_optim: &mut ModuleOptimizer,
                       pool: &mut Supernet,
                       idx: &[usize],
                       t: usize,
                       rng: &mut ChaCha8Rng,
                       fixed: &[Option<usize>]|
     -> Result<f64, DartsError> {
        let (union, all, models) = views(&relaxed, &pool.pool);
        let (x, y) = batch_tensors(&data.train, idx, dims, &device);
        let mix: Mix = mix_of(arch, t, rng, fixed)
            .into_iter()
            .map(|row| row.into_iter().map(|(k, w)| (k, w.detach())).collect())
            .collect();
        let ew = edge_w(arch).map(|w| w.detach());
        let loss = loss_fn.forward(relaxed.logits(&models, &mix, ew.as_ref(), x), y);
        let value = loss
            .clone()
            .into_data()
            .iter::<f64>()
            .next()
            .unwrap_or(f64::NAN);
        if !value.is_finite() || value > 1e4 {
            return Err(DartsError::Diverged(value));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &all);
        let lr = cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * t as f64 / total as f64).cos());
        let all = w_optim.step(lr, all, grads);
        for (u, i) in all.units.into_iter().zip(union) {
            pool.pool.units[i] = u;
        }
        Ok(value)
    };

    for epoch in 0..cfg.epochs {
        let mut order_w = w_half.clone();
        let mut order_a = a_half.clone();
        order_w.shuffle(&mut rng);
        order_a.shuffle(&mut rng);
        let mut sum = 0.0;
        let mut arch_sum = 0.0;
        let mut steps = 0;
        for (iw, ia) in order_w.chunks(batch).zip(order_a.chunks(batch).cycle()) {
            // α on the α half.
            {
                let (_, _, models) = views(&relaxed, &pool.pool);
                // The weights are held in the α step: untracked, the backward computes α's
                // gradients only.
                let models: Vec<Model> = models.into_iter().map(Module::no_grad).collect();
                let (x, y) = batch_tensors(&data.train, ia, dims, &device);
                let mix = mix_of(&arch, t, &mut rng, &free);
                let ew = edge_w(&arch);
                let mut loss = loss_fn.forward(relaxed.logits(&models, &mix, ew.as_ref(), x), y);
                arch_sum += loss
                    .clone()
                    .into_data()
                    .iter::<f64>()
                    .next()
                    .unwrap_or(f64::NAN);
                if cfg.method == Method::Beta {
                    let lambda = cfg.beta * t as f64 / total as f64;
                    let reg = arch.alpha.val().exp().sum_dim(1).log().mean();
                    loss = loss + reg.mul_scalar(lambda);
                }
                let grads = GradientsParams::from_grads(loss.backward(), &arch);
                arch = a_optim.step(cfg.arch_lr, arch, grads);
            }
            sum += weight_step(&arch, &mut w_optim, &mut pool, iw, t, &mut rng, &free)?;
            steps += 1;
            t += 1;
        }
        let loss = sum / steps.max(1) as f64;
        losses.push(loss);
        arch_losses.push(arch_sum / steps.max(1) as f64);
        progress(epoch + 1, loss, &weights_of(&arch));
    }

    let weights = weights_of(&arch);
    let chosen: Vec<usize> = match cfg.selection {
        Selection::Argmax => weights
            .iter()
            .map(|row| {
                (0..k_n)
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .expect("options")
            })
            .collect(),
        Selection::Perturb => {
            let mut fixed: Vec<Option<usize>> = vec![None; e_n];
            let mut order: Vec<usize> = (0..e_n).collect();
            order.shuffle(&mut rng);
            let probe: Vec<usize> = a_half.iter().copied().take(cfg.select_examples).collect();
            let accuracy = |arch: &Arch,
                            pool: &Supernet,
                            fixed: &[Option<usize>],
                            drop: Option<(usize, usize)>| {
                let (_, _, models) = views(&relaxed, &pool.pool);
                // Untracked: a forward without a backward would leave its graph behind.
                let models: Vec<Model> = models.into_iter().map(Module::no_grad).collect();
                // Expectation, not a sample, for GDAS too: the mixture's accuracy. Batch
                // norms use each batch's statistics, as while training.
                let w = softmax(arch.alpha.val(), 1).detach();
                let mix: Mix = (0..e_n)
                    .map(|e| match fixed[e] {
                        Some(k) => vec![(k, Tensor::ones([1, 1, 1, 1], &w.device()))],
                        None => (0..k_n)
                            .filter(|&k| drop != Some((e, k)))
                            .map(|k| (k, scalar(w.clone(), e, k)))
                            .collect(),
                    })
                    .collect();
                let plain = w.device();
                let ew = edge_w(arch).map(|w| w.detach());
                let mut correct = 0usize;
                for chunk in probe.chunks(250) {
                    let (x, y) = batch_tensors(&data.train, chunk, dims, &plain);
                    let pred = relaxed
                        .logits(&models, &mix, ew.as_ref(), x)
                        .argmax(1)
                        .reshape([chunk.len()]);
                    correct += pred
                        .equal(y)
                        .int()
                        .sum()
                        .into_data()
                        .iter::<i64>()
                        .next()
                        .unwrap_or(0) as usize;
                }
                correct as f64 / probe.len().max(1) as f64
            };
            for &e in &order {
                let base = accuracy(&arch, &pool, &fixed, None);
                let mut best = (f64::NEG_INFINITY, 0);
                for k in 0..k_n {
                    let drop = base - accuracy(&arch, &pool, &fixed, Some((e, k)));
                    if drop > best.0 {
                        best = (drop, k);
                    }
                }
                fixed[e] = Some(best.1);
                let mut order_w = w_half.clone();
                order_w.shuffle(&mut rng);
                for idx in order_w.chunks(batch).take(cfg.tune_steps) {
                    weight_step(
                        &arch,
                        &mut w_optim,
                        &mut pool,
                        idx,
                        t.min(total - 1),
                        &mut rng,
                        &fixed,
                    )?;
                }
            }
            fixed
                .into_iter()
                .map(|k| k.expect("every edge decided"))
                .collect()
        }
    };
    let ops: Vec<&str> = chosen.iter().map(|&k| cell.options[k].as_str()).collect();
    let parameter_free =
        chosen.iter().filter(|&&k| cell.parameter_free[k]).count() as f64 / e_n as f64;
    Ok(DartsResult {
        options: cell.options.clone(),
        edges: cell.edges.clone(),
        weights,
        chosen,
        cell: cell_line(&cell.edges, &ops),
        parameter_free,
        losses,
        arch_losses,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn weights_of(arch: &Arch) -> Vec<Vec<f64>> {
    let w = softmax(arch.alpha.val(), 1);
    let [e, k] = w.dims();
    let v: Vec<f32> = w.into_data().try_to_vec::<f32>().unwrap_or_default();
    (0..e)
        .map(|i| v[i * k..(i + 1) * k].iter().map(|&x| x as f64).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn shuffle_interleaves_the_groups() {
        let device = Device::default();
        // One example, 6 channels of one value each: channel c holds c.
        let x = Tensor::<4>::from_data(
            TensorData::new((0..6).map(|c| c as f32).collect::<Vec<_>>(), [1, 6, 1, 1]),
            &device,
        );
        // Groups {0, 1, 2} and {3, 4, 5} interleave.
        assert_eq!(
            values(shuffle(x.clone(), 2)),
            [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
        );
        assert_eq!(values(shuffle(x, 3)), [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
    }

    #[test]
    fn edge_weights_sum_to_one_over_the_edges_into_each_node() {
        let device = Device::default();
        // NB201's six edges: into node 1 one edge, into 2 two, into 3 three.
        let edges = [(0u32, 1u32), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)];
        let same: Vec<f32> = (0..36)
            .map(|ij| f32::from(edges[ij / 6].1 == edges[ij % 6].1))
            .collect();
        let same = Tensor::<2>::from_data(TensorData::new(same, [6, 6]), &device);
        let p = Tensor::<2>::from_data(
            TensorData::new(vec![0.3f32, -1.0, 2.0, 0.5, 0.5, 4.0], [1, 6]),
            &device,
        );
        let w: Vec<f32> = edge_weights(p, &same).into_data().try_to_vec().unwrap();
        assert!(
            (w[0] - 1.0).abs() < 1e-6,
            "a node with one input edge: {w:?}"
        );
        assert!((w[1] + w[2] - 1.0).abs() < 1e-6);
        assert!((w[3] + w[4] + w[5] - 1.0).abs() < 1e-6);
        assert!((w[3] - w[4]).abs() < 1e-6 && w[5] > w[3], "{w:?}");
        assert!((w[2] / w[1] - 3f32.exp()).abs() < 1e-3, "softmax: {w:?}");
    }
}
