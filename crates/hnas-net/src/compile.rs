//! Gives a candidate's operations their meaning: reads the candidate's JSON form (see
//! `hnas_space::Space::to_json`) and builds a [`Net`], inferring every layer's shape. The
//! operation names are a registry documented in docs/training.md; an unknown name, a missing
//! argument or shapes that cannot meet is a [`CompileError`] naming where in the candidate.

use crate::net::{Act, DagEdge, Layer, Net, Node, Shape, Unit, Win};
use serde_json::{Map, Value as Json};
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// Why a candidate is not a network: where in the candidate, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "at {}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for CompileError {}

/// Optimizers a network can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optim {
    Sgd,
    Adam,
    AdamW,
}

impl Optim {
    pub fn name(self) -> &'static str {
        match self {
            Optim::Sgd => "sgd",
            Optim::Adam => "adam",
            Optim::AdamW => "adamw",
        }
    }

    pub fn from_name(s: &str) -> Option<Optim> {
        Some(match s {
            "sgd" => Optim::Sgd,
            "adam" => Optim::Adam,
            "adamw" => Optim::AdamW,
            _ => return None,
        })
    }
}

/// Training settings a candidate may choose for itself, as arguments of its root operation
/// (`net(body = .., lr = {0.01, 0.003})`); unset ones take the evaluator's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainArgs {
    pub lr: Option<f64>,
    pub optimizer: Option<Optim>,
    pub weight_decay: Option<f64>,
    pub momentum: Option<f64>,
    pub batch: Option<usize>,
    pub label_smoothing: Option<f64>,
}

/// The macro skeleton a bare cell (a DAG at the root, as in NAS-Bench-201) is stacked in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skeleton {
    /// Channels of the first stage (doubled at each of the two reductions).
    pub channels: usize,
    /// Cells per stage.
    pub cells: usize,
}

impl Default for Skeleton {
    fn default() -> Self {
        Skeleton {
            channels: 16,
            cells: 1,
        }
    }
}

/// A compiled candidate: its network and the training settings it chose.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub net: Net,
    pub train: TrainArgs,
    /// Where in the candidate each unit of `net.units` was made: the path of operations,
    /// arguments and list positions down to it, then `#k` for the k-th unit made there.
    /// Two candidates that make a unit at the same place (the same option of the same
    /// choice, under the same ancestors) give it the same path: what a supernet shares.
    pub unit_paths: Vec<String>,
}

const TRAIN_ARGS: [&str; 6] = [
    "lr",
    "optimizer",
    "weight_decay",
    "momentum",
    "batch",
    "label_smoothing",
];

/// The operations [`compile`] knows, for error messages and docs.
pub const OPERATIONS: &[&str] = &[
    "seq",
    "stack",
    "cnn",
    "residual",
    "add",
    "concat",
    "conv",
    "dwconv",
    "pwconv",
    "sepconv",
    "mbconv",
    "se",
    "max_pool",
    "avg_pool",
    "global_avg_pool",
    "global_max_pool",
    "flatten",
    "batch_norm",
    "layer_norm",
    "relu",
    "gelu",
    "hswish",
    "silu",
    "tanh",
    "sigmoid",
    "dropout",
    "dense",
    "linear",
    "attention",
    "identity",
    "zero",
    "dag",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "none",
    "mnasnet",
    "net",
    "mlp",
];

/// Compiles a candidate (its JSON form: `{"root": .., "shared": {..}}`) for inputs of
/// `input` shape and `classes` classes. The network ends in a classifier hnas adds: global
/// average pooling where the body's output is not flat, then a linear layer to `classes`.
pub fn compile(
    candidate: &Json,
    input: Shape,
    classes: usize,
    skeleton: Skeleton,
) -> Result<Compiled, CompileError> {
    let empty = Map::new();
    let empty_args = Map::new();
    let shared = candidate
        .get("shared")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    let root = candidate.get("root").ok_or_else(|| CompileError {
        path: String::new(),
        message: "the candidate has no root".into(),
    })?;
    let mut b = Builder {
        shared,
        units: Vec::new(),
        unit_paths: Vec::new(),
        made_at: HashMap::new(),
        path: vec!["root".into()],
    };
    let mut train = TrainArgs::default();
    let body = if root.get("dag").is_some() {
        b.nb201_skeleton(root, input, skeleton)?
    } else if let Some(name) = root.get("op").and_then(Json::as_str) {
        let args = root
            .get("args")
            .and_then(Json::as_object)
            .unwrap_or(&empty_args);
        train = b.train_args(args)?;
        match name {
            "net" | "mlp" | "network" | "model" => {
                let layers: Vec<(&String, &Json)> = args
                    .iter()
                    .filter(|(k, _)| !TRAIN_ARGS.contains(&k.as_str()))
                    .collect();
                b.seq_of(&layers, input)?
            }
            "mnasnet" => b.mnasnet(args, input)?,
            _ => b.layer(root, input)?,
        }
    } else {
        b.layer(root, input)?
    };
    let mut layers = vec![body];
    let mut x = layers[0].output;
    if !matches!(x, Shape::Flat { .. }) {
        layers.push(Node {
            layer: Layer::GlobalAvgPool,
            input: x,
            output: Shape::Flat { f: x.channels() },
        });
        x = Shape::Flat { f: x.channels() };
    }
    let unit = b.unit(Unit::Linear {
        fin: x.channels(),
        fout: classes,
    });
    layers.push(Node {
        layer: Layer::Linear {
            unit,
            fin: x.channels(),
            fout: classes,
        },
        input: x,
        output: Shape::Flat { f: classes },
    });
    let body = Node {
        layer: Layer::Seq(layers),
        input,
        output: Shape::Flat { f: classes },
    };
    Ok(Compiled {
        net: Net {
            input,
            classes,
            body,
            units: b.units,
        },
        train,
        unit_paths: b.unit_paths,
    })
}

struct Builder<'a> {
    shared: &'a Map<String, Json>,
    units: Vec<Unit>,
    unit_paths: Vec<String>,
    /// Units made so far at each path.
    made_at: HashMap<String, usize>,
    path: Vec<String>,
}

type R<T> = Result<T, CompileError>;

/// An operation's arguments, read by name; [`Args::finish`] rejects the ones nobody read.
struct Args<'a> {
    op: &'a str,
    map: Option<&'a Map<String, Json>>,
    read: BTreeSet<&'static str>,
}

impl<'a> Args<'a> {
    fn get(&mut self, key: &'static str) -> Option<&'a Json> {
        self.read.insert(key);
        self.map.and_then(|m| m.get(key))
    }
}

fn node(layer: Layer, input: Shape, output: Shape) -> Node {
    Node {
        layer,
        input,
        output,
    }
}

fn seq(layers: Vec<Node>, input: Shape) -> Node {
    let output = layers.last().map_or(input, |n| n.output);
    node(Layer::Seq(layers), input, output)
}

impl<'a> Builder<'a> {
    fn err<T>(&self, message: impl Into<String>) -> R<T> {
        Err(CompileError {
            path: self.path.join("."),
            message: message.into(),
        })
    }

    fn unit(&mut self, u: Unit) -> usize {
        let at = self.path.join(".");
        let k = self.made_at.entry(at.clone()).or_insert(0);
        self.unit_paths.push(format!("{at}#{k}"));
        *k += 1;
        self.units.push(u);
        self.units.len() - 1
    }

    fn train_args(&self, m: &Map<String, Json>) -> R<TrainArgs> {
        let mut t = TrainArgs::default();
        for (k, v) in m {
            let num = || v.as_f64();
            match k.as_str() {
                "lr" => t.lr = Some(self.positive(k, num())?),
                "weight_decay" => t.weight_decay = Some(self.non_negative(k, num())?),
                "momentum" => t.momentum = Some(self.non_negative(k, num())?),
                "label_smoothing" => t.label_smoothing = Some(self.non_negative(k, num())?),
                "batch" => t.batch = Some(self.positive(k, num())? as usize),
                "optimizer" => {
                    let s = v.as_str().unwrap_or_default();
                    t.optimizer = Some(match Optim::from_name(s) {
                        Some(o) => o,
                        None => {
                            return self
                                .err(format!("optimizer: expected sgd, adam or adamw, found {v}"))
                        }
                    });
                }
                _ => {}
            }
        }
        Ok(t)
    }

    fn positive(&self, k: &str, v: Option<f64>) -> R<f64> {
        match v {
            Some(x) if x > 0.0 && x.is_finite() => Ok(x),
            _ => self.err(format!("{k}: expected a positive number")),
        }
    }

    fn non_negative(&self, k: &str, v: Option<f64>) -> R<f64> {
        match v {
            Some(x) if x >= 0.0 && x.is_finite() => Ok(x),
            _ => self.err(format!("{k}: expected a number ≥ 0")),
        }
    }

    fn with_path<T>(&mut self, seg: String, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        self.path.push(seg);
        let r = f(self);
        self.path.pop();
        r
    }

    /// Layers applied one after the other, in the order the arguments are written.
    fn seq_of(&mut self, layers: &[(&String, &'a Json)], x: Shape) -> R<Node> {
        let mut out = Vec::new();
        let mut cur = x;
        for (k, j) in layers {
            let n = self.with_path((*k).clone(), |b| b.layer(j, cur))?;
            cur = n.output;
            out.push(n);
        }
        Ok(seq(out, x))
    }

    /// Any layer: an operation, a list (applied in order), a bare name, a DAG cell or a
    /// shared rule's binding.
    fn layer(&mut self, j: &'a Json, x: Shape) -> R<Node> {
        match j {
            Json::String(s) => self.op(s, None, x),
            Json::Array(items) => {
                let mut out = Vec::new();
                let mut cur = x;
                for (i, it) in items.iter().enumerate() {
                    let n = self.with_path(format!("[{i}]"), |b| b.layer(it, cur))?;
                    cur = n.output;
                    out.push(n);
                }
                Ok(seq(out, x))
            }
            Json::Object(m) => {
                if let Some(name) = m.get("op").and_then(Json::as_str) {
                    self.op(name, m.get("args").and_then(Json::as_object), x)
                } else if let Some(edges) = m.get("dag").and_then(Json::as_array) {
                    self.dag(edges, x)
                } else if let Some(rule) = m.get("shared").and_then(Json::as_str) {
                    let shared = self.shared;
                    match shared.get(rule) {
                        Some(bound) => self.with_path(format!("@{rule}"), |b| b.layer(bound, x)),
                        None => self.err(format!("shared rule @{rule} has no binding")),
                    }
                } else {
                    self.err(format!("expected a layer, found {j}"))
                }
            }
            _ => self.err(format!("expected a layer (an operation), found {j}")),
        }
    }

    fn op(&mut self, name: &'a str, map: Option<&'a Map<String, Json>>, x: Shape) -> R<Node> {
        let name_owned = name.to_string();
        self.with_path(name_owned, |b| {
            let mut a = Args {
                op: name,
                map,
                read: BTreeSet::new(),
            };
            let n = b.op_inner(name, &mut a, x)?;
            b.finish(&a)?;
            Ok(n)
        })
    }

    fn finish(&self, a: &Args) -> R<()> {
        if let Some(m) = a.map {
            for k in m.keys() {
                if !a.read.contains(k.as_str()) {
                    let known: Vec<&str> = a.read.iter().copied().collect();
                    return self.err(format!(
                        "{}: unknown argument `{k}` (it takes {})",
                        a.op,
                        if known.is_empty() {
                            "no arguments".to_string()
                        } else {
                            known.join(", ")
                        }
                    ));
                }
            }
        }
        Ok(())
    }

    fn int(&self, a: &mut Args<'a>, key: &'static str, default: Option<usize>) -> R<usize> {
        match a.get(key) {
            None => match default {
                Some(d) => Ok(d),
                None => self.err(format!("{}: missing argument `{key}`", a.op)),
            },
            Some(v) => match v.as_f64() {
                Some(f) if f >= 1.0 && f.fract() == 0.0 => Ok(f as usize),
                _ => self.err(format!(
                    "{}: `{key}` must be a positive integer, found {v}",
                    a.op
                )),
            },
        }
    }

    fn float(&self, a: &mut Args<'a>, key: &'static str, default: f64) -> R<f64> {
        match a.get(key) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(f) if f.is_finite() && f >= 0.0 => Ok(f),
                _ => self.err(format!("{}: `{key}` must be a number ≥ 0, found {v}", a.op)),
            },
        }
    }

    fn word(&self, a: &mut Args<'a>, key: &'static str, default: &'a str) -> R<&'a str> {
        match a.get(key) {
            None => Ok(default),
            Some(Json::String(s)) => Ok(s.as_str()),
            Some(Json::Object(m)) if m.get("args").is_none() => {
                match m.get("op").and_then(Json::as_str) {
                    Some(s) => Ok(s),
                    None => self.err(format!("{}: `{key}` must be a name", a.op)),
                }
            }
            Some(Json::Bool(false)) => Ok("none"),
            Some(v) => self.err(format!("{}: `{key}` must be a name, found {v}", a.op)),
        }
    }

    /// The output channels of a convolution: `channels` if given, else the input's channels
    /// times `widen` (default 1).
    fn channels_arg(&self, a: &mut Args<'a>, x: Shape) -> R<usize> {
        let widen = self.float(a, "widen", 1.0)?;
        let c = match a.get("channels") {
            Some(_) => self.int(a, "channels", None)?,
            None => ((x.channels() as f64) * widen).round() as usize,
        };
        if c == 0 {
            return self.err(format!("{}: zero output channels", a.op));
        }
        Ok(c)
    }

    fn act_arg(&self, a: &mut Args<'a>, key: &'static str, default: &'a str) -> R<Option<Act>> {
        let w = self.word(a, key, default)?;
        if w == "none" || w == "identity" {
            return Ok(None);
        }
        match Act::from_name(w) {
            Some(act) => Ok(Some(act)),
            None => self.err(format!(
                "{}: `{key}` must be relu, gelu, hswish, silu, tanh, sigmoid or none, found {w}",
                a.op
            )),
        }
    }

    fn spatial(&self, op: &str, x: Shape) -> R<()> {
        if let Shape::Flat { .. } = x {
            return self.err(format!(
                "{op} needs a sequence or an image, but its input is flat ({x} features)"
            ));
        }
        Ok(())
    }

    fn window(x: Shape, k: usize, s: usize, p: usize) -> (Win, Win, Win) {
        match x {
            Shape::Seq { .. } => ([1, k], [1, s], [0, p]),
            _ => ([k, k], [s, s], [p, p]),
        }
    }

    fn out_len(&self, op: &str, n: usize, k: usize, s: usize, p: usize) -> R<usize> {
        if n + 2 * p < k {
            return self.err(format!(
                "{op}: window {k} does not fit an input of length {n}{} (too many reductions before it)",
                if p > 0 { format!(" padded by {p}") } else { String::new() }
            ));
        }
        Ok((n + 2 * p - k) / s + 1)
    }

    fn reduce(&self, op: &str, x: Shape, c: usize, k: Win, s: Win, p: Win) -> R<Shape> {
        Ok(match x {
            Shape::Seq { l, .. } => Shape::Seq {
                c,
                l: self.out_len(op, l, k[1], s[1], p[1])?,
            },
            Shape::Image { h, w, .. } => Shape::Image {
                c,
                h: self.out_len(op, h, k[0], s[0], p[0])?,
                w: self.out_len(op, w, k[1], s[1], p[1])?,
            },
            Shape::Flat { .. } => unreachable!("checked by spatial()"),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        op: &str,
        x: Shape,
        cout: usize,
        k: usize,
        s: usize,
        groups: usize,
        bias: bool,
    ) -> R<Node> {
        self.spatial(op, x)?;
        let cin = x.channels();
        if !cin.is_multiple_of(groups) || !cout.is_multiple_of(groups) {
            return self.err(format!(
                "{op}: {groups} groups do not divide {cin} input and {cout} output channels"
            ));
        }
        let (kernel, stride, pad) = Self::window(x, k, s, k / 2);
        let y = self.reduce(op, x, cout, kernel, stride, pad)?;
        let unit = self.unit(Unit::Conv {
            cin,
            cout,
            kernel,
            stride,
            pad,
            groups,
            bias,
        });
        Ok(node(
            Layer::Conv {
                unit,
                cin,
                cout,
                kernel,
                stride,
                pad,
                groups,
                bias,
            },
            x,
            y,
        ))
    }

    fn norm(&mut self, kind: &str, x: Shape) -> R<Option<Node>> {
        let c = x.channels();
        Ok(match kind {
            "none" => None,
            "batch" | "batch_norm" => {
                let unit = self.unit(Unit::BatchNorm { c });
                Some(node(Layer::BatchNorm { unit, c }, x, x))
            }
            "layer" | "layer_norm" => {
                let unit = self.unit(Unit::LayerNorm { c });
                Some(node(Layer::LayerNorm { unit, c }, x, x))
            }
            _ => return self.err(format!("norm must be batch, layer or none, found {kind}")),
        })
    }

    /// conv → norm → activation, the unit most spaces are written in.
    #[allow(clippy::too_many_arguments)]
    fn conv_block(
        &mut self,
        op: &str,
        x: Shape,
        cout: usize,
        k: usize,
        s: usize,
        groups: usize,
        norm: &str,
        act: Option<Act>,
    ) -> R<Vec<Node>> {
        let c = self.conv(op, x, cout, k, s, groups, norm == "none")?;
        let y = c.output;
        let mut v = vec![c];
        if let Some(n) = self.norm(norm, y)? {
            v.push(n);
        }
        if let Some(a) = act {
            v.push(node(Layer::Act(a), y, y));
        }
        Ok(v)
    }

    fn op_inner(&mut self, name: &'a str, a: &mut Args<'a>, x: Shape) -> R<Node> {
        if let Some(act) = Act::from_name(name) {
            return Ok(node(Layer::Act(act), x, x));
        }
        match name {
            "seq" | "sequential" | "stack" | "cnn" | "mlp" | "net" | "network" | "model" => {
                let layers: Vec<(&String, &Json)> =
                    a.map.map(|m| m.iter().collect()).unwrap_or_default();
                // Every argument of a sequence is a layer, whatever its name.
                a.map = None;
                self.seq_of(&layers, x)
            }
            "identity" | "skip_connect" | "skip" => Ok(node(Layer::Identity, x, x)),
            "zero" | "none" => Ok(node(Layer::Zero, x, x)),
            "conv" => {
                let cout = self.channels_arg(a, x)?;
                let k = self.int(a, "kernel", Some(3))?;
                let s = self.int(a, "stride", Some(1))?;
                let g = self.int(a, "groups", Some(1))?;
                let norm = self.word(a, "norm", "none")?;
                let act = self.act_arg(a, "act", "none")?;
                let v = self.conv_block(name, x, cout, k, s, g, norm, act)?;
                Ok(seq(v, x))
            }
            "pwconv" => {
                let cout = self.channels_arg(a, x)?;
                let norm = self.word(a, "norm", "none")?;
                let act = self.act_arg(a, "act", "none")?;
                let v = self.conv_block(name, x, cout, 1, 1, 1, norm, act)?;
                Ok(seq(v, x))
            }
            "dwconv" => {
                let k = self.int(a, "kernel", Some(3))?;
                let s = self.int(a, "stride", Some(1))?;
                let norm = self.word(a, "norm", "none")?;
                let act = self.act_arg(a, "act", "none")?;
                let c = x.channels();
                let v = self.conv_block(name, x, c, k, s, c, norm, act)?;
                Ok(seq(v, x))
            }
            "sepconv" => {
                let cout = self.channels_arg(a, x)?;
                let k = self.int(a, "kernel", Some(3))?;
                let s = self.int(a, "stride", Some(1))?;
                let norm = self.word(a, "norm", "batch")?;
                let act = self.act_arg(a, "act", "relu")?;
                let c = x.channels();
                let mut v = self.conv_block(name, x, c, k, s, c, norm, None)?;
                let y = v.last().map_or(x, |n| n.output);
                v.extend(self.conv_block(name, y, cout, 1, 1, 1, norm, act)?);
                Ok(seq(v, x))
            }
            "mbconv" => {
                let cout = self.channels_arg(a, x)?;
                let expand = self.float(a, "expand", 6.0)?;
                let k = self.int(a, "kernel", Some(3))?;
                let s = self.int(a, "stride", Some(1))?;
                let se = self.float(a, "se", 0.0)?;
                let act = self.act_arg(a, "act", "relu")?;
                self.mbconv(x, cout, expand, k, s, se, act, true)
            }
            "se" | "squeeze_excite" => {
                let ratio = self.float(a, "ratio", 0.25)?;
                self.squeeze_excite(x, ratio)
            }
            "max_pool" | "avg_pool" => {
                self.spatial(name, x)?;
                let k = match a.get("size") {
                    Some(_) => self.int(a, "size", None)?,
                    None => self.int(a, "kernel", Some(2))?,
                };
                let s = self.int(a, "stride", Some(k))?;
                self.pool(name == "max_pool", x, k, s)
            }
            "avg_pool_3x3" => {
                self.spatial(name, x)?;
                self.pool(false, x, 3, 1)
            }
            "nor_conv_1x1" | "nor_conv_3x3" => {
                let k = if name == "nor_conv_1x1" { 1 } else { 3 };
                let mut v = vec![node(Layer::Act(Act::Relu), x, x)];
                v.extend(self.conv_block(name, x, x.channels(), k, 1, 1, "batch", None)?);
                Ok(seq(v, x))
            }
            "global_avg_pool" | "global_max_pool" => {
                let y = Shape::Flat { f: x.channels() };
                let l = if name == "global_avg_pool" {
                    Layer::GlobalAvgPool
                } else {
                    Layer::GlobalMaxPool
                };
                Ok(node(l, x, y))
            }
            "flatten" => Ok(node(Layer::Flatten, x, Shape::Flat { f: x.numel() })),
            "batch_norm" | "layer_norm" => Ok(self.norm(name, x)?.expect("a norm")),
            "dropout" => {
                let p = match a.get("rate") {
                    Some(_) => self.float(a, "rate", 0.1)?,
                    None => self.float(a, "p", 0.1)?,
                };
                if p >= 1.0 {
                    return self.err(format!("dropout: rate {p} must be below 1"));
                }
                Ok(node(Layer::Dropout { p }, x, x))
            }
            "dense" | "linear" => {
                let width = match (a.get("width"), a.get("features"), a.get("units")) {
                    (Some(_), _, _) => self.int(a, "width", None)?,
                    (_, Some(_), _) => self.int(a, "features", None)?,
                    _ => self.int(a, "units", None)?,
                };
                let act = self.act_arg(a, "act", "none")?;
                let p = self.float(a, "dropout", 0.0)?;
                let mut v = Vec::new();
                let mut cur = x;
                if !matches!(x, Shape::Flat { .. }) {
                    cur = Shape::Flat { f: x.numel() };
                    v.push(node(Layer::Flatten, x, cur));
                }
                let fin = cur.channels();
                let unit = self.unit(Unit::Linear { fin, fout: width });
                let y = Shape::Flat { f: width };
                v.push(node(
                    Layer::Linear {
                        unit,
                        fin,
                        fout: width,
                    },
                    cur,
                    y,
                ));
                if let Some(act) = act {
                    v.push(node(Layer::Act(act), y, y));
                }
                if p > 0.0 {
                    if p >= 1.0 {
                        return self.err(format!("dense: dropout {p} must be below 1"));
                    }
                    v.push(node(Layer::Dropout { p }, y, y));
                }
                Ok(seq(v, x))
            }
            "attention" => {
                self.spatial(name, x)?;
                let heads = self.int(a, "heads", Some(1))?;
                let dim = x.channels();
                if !dim.is_multiple_of(heads) {
                    return self.err(format!(
                        "attention: {heads} heads do not divide {dim} channels"
                    ));
                }
                let norm = self.word(a, "norm", "none")?;
                let mut v = Vec::new();
                if let Some(n) = self.norm(norm, x)? {
                    v.push(n);
                }
                let unit = self.unit(Unit::Attention { dim, heads });
                v.push(node(Layer::Attention { unit, dim, heads }, x, x));
                Ok(seq(v, x))
            }
            "residual" => {
                let body = match a.get("body") {
                    Some(j) => self.with_path("body".into(), |b| b.layer(j, x))?,
                    None => return self.err("residual: missing argument `body`"),
                };
                self.residual(body, x)
            }
            "add" | "concat" => {
                let Some(Json::Array(items)) = a.get("branches") else {
                    return self.err(format!("{name}: expected `branches`, a list of layers"));
                };
                let mut branches = Vec::new();
                for (i, it) in items.iter().enumerate() {
                    branches.push(self.with_path(format!("branches[{i}]"), |b| b.layer(it, x))?);
                }
                self.parallel(branches, name == "concat", x)
            }
            "stage" => self.mnas_stage(a, x),
            _ => self.err(format!(
                "no meaning for operation `{name}` (hnas-train knows: {})",
                OPERATIONS.join(", ")
            )),
        }
    }

    fn pool(&mut self, max: bool, x: Shape, k: usize, s: usize) -> R<Node> {
        let p = if s == 1 { k / 2 } else { 0 };
        let (kernel, stride, pad) = Self::window(x, k, s, p);
        let op = if max { "max_pool" } else { "avg_pool" };
        let y = self.reduce(op, x, x.channels(), kernel, stride, pad)?;
        let l = if max {
            Layer::MaxPool {
                kernel,
                stride,
                pad,
            }
        } else {
            Layer::AvgPool {
                kernel,
                stride,
                pad,
            }
        };
        Ok(node(l, x, y))
    }

    fn squeeze_excite(&mut self, x: Shape, ratio: f64) -> R<Node> {
        self.spatial("se", x)?;
        let c = x.channels();
        let reduced = ((c as f64 * ratio).round() as usize).max(1);
        let squeeze = self.unit(Unit::Linear {
            fin: c,
            fout: reduced,
        });
        let excite = self.unit(Unit::Linear {
            fin: reduced,
            fout: c,
        });
        Ok(node(
            Layer::SqueezeExcite {
                squeeze,
                excite,
                c,
                reduced,
            },
            x,
            x,
        ))
    }

    /// MobileNetV2's inverted bottleneck: expand (1×1), depthwise k×k, squeeze-excite,
    /// project (1×1); a residual where the shape is kept.
    #[allow(clippy::too_many_arguments)]
    fn mbconv(
        &mut self,
        x: Shape,
        cout: usize,
        expand: f64,
        k: usize,
        s: usize,
        se: f64,
        act: Option<Act>,
        skip: bool,
    ) -> R<Node> {
        let mid = ((x.channels() as f64) * expand).round().max(1.0) as usize;
        let mut v = Vec::new();
        let mut cur = x;
        if mid != x.channels() {
            v.extend(self.conv_block("mbconv", cur, mid, 1, 1, 1, "batch", act)?);
            cur = v.last().map_or(cur, |n| n.output);
        }
        v.extend(self.conv_block("mbconv", cur, mid, k, s, mid, "batch", act)?);
        cur = v.last().map_or(cur, |n| n.output);
        if se > 0.0 {
            v.push(self.squeeze_excite(cur, se)?);
        }
        v.extend(self.conv_block("mbconv", cur, cout, 1, 1, 1, "batch", None)?);
        let body = seq(v, x);
        if skip && body.output == x {
            self.residual(body, x)
        } else {
            Ok(body)
        }
    }

    fn residual(&mut self, body: Node, x: Shape) -> R<Node> {
        let y = body.output;
        if y == x {
            return Ok(node(
                Layer::Residual {
                    body: Box::new(body),
                    proj: None,
                },
                x,
                y,
            ));
        }
        let proj = match (x, y) {
            (Shape::Flat { f }, Shape::Flat { f: g }) => {
                let unit = self.unit(Unit::Linear { fin: f, fout: g });
                node(
                    Layer::Linear {
                        unit,
                        fin: f,
                        fout: g,
                    },
                    x,
                    y,
                )
            }
            (Shape::Seq { l, .. }, Shape::Seq { l: m, c }) => {
                let s = l.div_ceil(m.max(1));
                let p = self.conv("residual projection", x, c, 1, s, 1, false)?;
                if p.output != y {
                    return self.err(format!("residual: its body maps {x} to {y}, which no strided 1×1 projection matches"));
                }
                p
            }
            (Shape::Image { h, w, .. }, Shape::Image { h: h2, w: w2, c })
                if h.div_ceil(h2.max(1)) == w.div_ceil(w2.max(1)) =>
            {
                let s = h.div_ceil(h2.max(1));
                let p = self.conv("residual projection", x, c, 1, s, 1, false)?;
                if p.output != y {
                    return self.err(format!("residual: its body maps {x} to {y}, which no strided 1×1 projection matches"));
                }
                p
            }
            _ => {
                return self.err(format!(
                    "residual: its body maps {x} to {y}, which cannot be added to its input"
                ))
            }
        };
        Ok(node(
            Layer::Residual {
                body: Box::new(body),
                proj: Some(Box::new(proj)),
            },
            x,
            y,
        ))
    }

    fn parallel(&mut self, branches: Vec<Node>, concat: bool, x: Shape) -> R<Node> {
        let Some(first) = branches.first().map(|b| b.output) else {
            return self.err("no branches");
        };
        let y = if concat {
            let mut c = 0;
            for b in &branches {
                if b.output.with_channels(1) != first.with_channels(1)
                    || matches!(b.output, Shape::Flat { .. }) != matches!(first, Shape::Flat { .. })
                {
                    return self.err(format!(
                        "concat: branch outputs {} and {first} differ in more than channels",
                        b.output
                    ));
                }
                c += b.output.channels();
            }
            first.with_channels(c)
        } else {
            for b in &branches {
                if b.output != first {
                    return self.err(format!(
                        "add: branch outputs {} and {first} differ",
                        b.output
                    ));
                }
            }
            first
        };
        Ok(node(Layer::Parallel { branches, concat }, x, y))
    }

    fn dag(&mut self, edges: &'a [Json], x: Shape) -> R<Node> {
        let mut parsed = Vec::new();
        let mut nodes = 1;
        for (i, e) in edges.iter().enumerate() {
            let (Some(from), Some(to), Some(op)) = (
                e.get("from").and_then(Json::as_u64),
                e.get("to").and_then(Json::as_u64),
                e.get("op"),
            ) else {
                return self.err(format!("edge {i}: expected {{from, to, op}}"));
            };
            if from >= to {
                return self.err(format!("edge {i}: {from} -> {to} is not forward"));
            }
            nodes = nodes.max(to as usize + 1);
            parsed.push((from as usize, to as usize, op));
        }
        parsed.sort_by_key(|&(f, t, _)| (t, f));
        let mut shapes: Vec<Option<Shape>> = vec![None; nodes];
        shapes[0] = Some(x);
        let mut out = Vec::new();
        for (from, to, op) in parsed {
            let input = shapes[from].unwrap_or(x);
            let n = self.with_path(format!("edge {from}->{to}"), |b| b.layer(op, input))?;
            if n.layer == Layer::Zero {
                continue;
            }
            match shapes[to] {
                Some(s) if s != n.output => {
                    return self.err(format!(
                        "node {to} sums {s} and {} from edge {from}->{to}",
                        n.output
                    ));
                }
                _ => shapes[to] = Some(n.output),
            }
            out.push(DagEdge { from, to, op: n });
        }
        let y = shapes[nodes - 1].unwrap_or(x);
        Ok(node(Layer::Dag { nodes, edges: out }, x, y))
    }

    /// NAS-Bench-201's skeleton around a cell: a 3×3 stem, three stages of cells with
    /// channels C, 2C, 4C joined by residual reductions, then batch norm and ReLU.
    fn nb201_skeleton(&mut self, cell: &'a Json, x: Shape, sk: Skeleton) -> R<Node> {
        let mut v = Vec::new();
        let stem = self.conv_block("stem", x, sk.channels, 3, 1, 1, "batch", None)?;
        let mut cur = stem.last().map_or(x, |n| n.output);
        v.extend(stem);
        for stage in 0..3 {
            if stage > 0 {
                let c = cur.channels() * 2;
                let mut body = vec![node(Layer::Act(Act::Relu), cur, cur)];
                body.extend(self.conv_block(
                    "reduction",
                    cur,
                    c,
                    3,
                    2,
                    1,
                    "batch",
                    Some(Act::Relu),
                )?);
                let mid = body.last().map_or(cur, |n| n.output);
                body.extend(self.conv_block("reduction", mid, c, 3, 1, 1, "batch", None)?);
                let r = self.residual(seq(body, cur), cur)?;
                cur = r.output;
                v.push(r);
            }
            for i in 0..sk.cells {
                let n =
                    self.with_path(format!("stage {stage} cell {i}"), |b| b.layer(cell, cur))?;
                cur = n.output;
                v.push(n);
            }
        }
        v.extend(self.norm("batch", cur)?);
        v.push(node(Layer::Act(Act::Relu), cur, cur));
        Ok(seq(v, x))
    }

    /// MnasNet's skeleton: a stride-2 3×3 stem, the blocks in order, a 1×1 head.
    fn mnasnet(&mut self, args: &'a Map<String, Json>, x: Shape) -> R<Node> {
        let mut a = Args {
            op: "mnasnet",
            map: Some(args),
            read: TRAIN_ARGS.iter().copied().collect(),
        };
        let stem = self.int(&mut a, "stem", Some(32))?;
        let head = self.int(&mut a, "head", Some(1280))?;
        let mut v = self.conv_block("stem", x, stem, 3, 2, 1, "batch", Some(Act::Relu))?;
        let mut cur = v.last().map_or(x, |n| n.output);
        for (k, j) in args {
            if matches!(k.as_str(), "stem" | "head") || TRAIN_ARGS.contains(&k.as_str()) {
                continue;
            }
            let n = self.with_path(k.clone(), |b| b.layer(j, cur))?;
            cur = n.output;
            v.push(n);
        }
        v.extend(self.conv_block("head", cur, head, 1, 1, 1, "batch", Some(Act::Relu))?);
        Ok(seq(v, x))
    }

    /// `stage(filters, stride, block = mnas_block(conv, kernel, se, skip, width, layers))`:
    /// `layers` identical layers, the first with the stage's stride.
    fn mnas_stage(&mut self, a: &mut Args<'a>, x: Shape) -> R<Node> {
        let filters = self.int(a, "filters", None)?;
        let stride = self.int(a, "stride", Some(1))?;
        let Some(block) = a.get("block") else {
            return self.err("stage: missing argument `block`");
        };
        let block = match block {
            Json::Object(m) if m.get("shared").is_some() => {
                let rule = m["shared"].as_str().unwrap_or_default();
                match self.shared.get(rule) {
                    Some(j) => j,
                    None => return self.err(format!("shared rule @{rule} has no binding")),
                }
            }
            j => j,
        };
        if block.get("op").and_then(Json::as_str) != Some("mnas_block") {
            return self.err("stage: `block` must be a mnas_block(..)");
        }
        let mut b = Args {
            op: "mnas_block",
            map: block.get("args").and_then(Json::as_object),
            read: BTreeSet::new(),
        };
        let k = self.int(&mut b, "kernel", Some(3))?;
        let se = self.float(&mut b, "se", 0.0)?;
        let skip = self.word(&mut b, "skip", "none")? == "identity";
        let width = self.float(&mut b, "width", 1.0)?;
        let layers = self.int(&mut b, "layers", Some(1))?;
        let conv = b
            .get("conv")
            .cloned()
            .unwrap_or(Json::String("conv".into()));
        self.finish(&b)?;
        let (conv_name, expand) = match &conv {
            Json::String(s) => (s.clone(), 1.0),
            Json::Object(m) => {
                let name = m
                    .get("op")
                    .and_then(Json::as_str)
                    .unwrap_or("?")
                    .to_string();
                let e = m
                    .get("args")
                    .and_then(|g| g.get("expand"))
                    .and_then(Json::as_f64)
                    .unwrap_or(6.0);
                (name, e)
            }
            _ => return self.err("mnas_block: `conv` must be conv, dwconv or mbconv(..)"),
        };
        let cout = ((filters as f64) * width).round().max(1.0) as usize;
        let mut v = Vec::new();
        let mut cur = x;
        for i in 0..layers {
            let s = if i == 0 { stride } else { 1 };
            let body = match conv_name.as_str() {
                "conv" => {
                    let mut l =
                        self.conv_block("conv", cur, cout, k, s, 1, "batch", Some(Act::Relu))?;
                    let y = l.last().map_or(cur, |n| n.output);
                    if se > 0.0 {
                        l.push(self.squeeze_excite(y, se)?);
                    }
                    seq(l, cur)
                }
                "dwconv" => {
                    let c = cur.channels();
                    let mut l =
                        self.conv_block("dwconv", cur, c, k, s, c, "batch", Some(Act::Relu))?;
                    let y = l.last().map_or(cur, |n| n.output);
                    if se > 0.0 {
                        l.push(self.squeeze_excite(y, se)?);
                    }
                    l.extend(self.conv_block("dwconv", y, cout, 1, 1, 1, "batch", None)?);
                    seq(l, cur)
                }
                "mbconv" => self.mbconv(cur, cout, expand, k, s, se, Some(Act::Relu), false)?,
                other => {
                    return self.err(format!(
                        "mnas_block: unknown conv `{other}` (conv, dwconv or mbconv)"
                    ))
                }
            };
            let n = if skip && body.output == cur {
                self.residual(body, cur)?
            } else {
                body
            };
            cur = n.output;
            v.push(n);
        }
        Ok(seq(v, x))
    }
}
