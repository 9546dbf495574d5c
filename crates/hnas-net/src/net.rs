//! A candidate's network before any tensor exists: layers with the shape of what flows in
//! and out, inferred when the candidate is compiled, so that an invalid network (shapes
//! that cannot meet, a reduction below one sample) fails at once with its reason and costs
//! no training. Parameter and FLOP counts are read off this form.

use std::fmt;

/// What flows between layers, per example (the batch dimension is implicit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// `c` channels along a sequence of length `l` (MNIST-1D: 1 × 40).
    Seq { c: usize, l: usize },
    /// `c` channels of an `h` × `w` image (Fashion-MNIST: 1 × 28 × 28).
    Image { c: usize, h: usize, w: usize },
    /// A flat feature vector (after flattening or global pooling).
    Flat { f: usize },
}

impl Shape {
    /// Channels (features, for a flat vector).
    pub fn channels(&self) -> usize {
        match *self {
            Shape::Seq { c, .. } | Shape::Image { c, .. } => c,
            Shape::Flat { f } => f,
        }
    }

    /// Positions per channel: the sequence length, the image area, or 1.
    pub fn positions(&self) -> usize {
        match *self {
            Shape::Seq { l, .. } => l,
            Shape::Image { h, w, .. } => h * w,
            Shape::Flat { .. } => 1,
        }
    }

    /// Values per example.
    pub fn numel(&self) -> usize {
        self.channels() * self.positions()
    }

    /// The `[channels, height, width]` the network's tensors use: a sequence is an image of
    /// height 1, a flat vector a 1 × 1 image.
    pub fn chw(&self) -> [usize; 3] {
        match *self {
            Shape::Seq { c, l } => [c, 1, l],
            Shape::Image { c, h, w } => [c, h, w],
            Shape::Flat { f } => [f, 1, 1],
        }
    }

    /// The same positions with `c` channels.
    pub fn with_channels(&self, c: usize) -> Shape {
        match *self {
            Shape::Seq { l, .. } => Shape::Seq { c, l },
            Shape::Image { h, w, .. } => Shape::Image { c, h, w },
            Shape::Flat { .. } => Shape::Flat { f: c },
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shape::Seq { c, l } => write!(f, "{c}×{l}"),
            Shape::Image { c, h, w } => write!(f, "{c}×{h}×{w}"),
            Shape::Flat { f: n } => write!(f, "{n}"),
        }
    }
}

/// Activation functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Relu,
    Gelu,
    Hswish,
    Silu,
    Tanh,
    Sigmoid,
}

impl Act {
    pub fn from_name(s: &str) -> Option<Act> {
        Some(match s {
            "relu" => Act::Relu,
            "gelu" => Act::Gelu,
            "hswish" | "hard_swish" => Act::Hswish,
            "silu" | "swish" => Act::Silu,
            "tanh" => Act::Tanh,
            "sigmoid" => Act::Sigmoid,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Act::Relu => "relu",
            Act::Gelu => "gelu",
            Act::Hswish => "hswish",
            Act::Silu => "silu",
            Act::Tanh => "tanh",
            Act::Sigmoid => "sigmoid",
        }
    }
}

/// A 2-D window: `[height, width]` (a sequence uses height 1).
pub type Win = [usize; 2];

/// One layer. Layers with parameters carry `unit`, their index among the network's
/// parametric units (see [`Net::units`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    Conv {
        unit: usize,
        cin: usize,
        cout: usize,
        kernel: Win,
        stride: Win,
        pad: Win,
        groups: usize,
        bias: bool,
    },
    BatchNorm {
        unit: usize,
        c: usize,
    },
    /// Normalizes each position over its channels.
    LayerNorm {
        unit: usize,
        c: usize,
    },
    Linear {
        unit: usize,
        fin: usize,
        fout: usize,
    },
    /// Multi-head self-attention over positions, channels as the model dimension.
    Attention {
        unit: usize,
        dim: usize,
        heads: usize,
    },
    Act(Act),
    MaxPool {
        kernel: Win,
        stride: Win,
        pad: Win,
    },
    /// Average pooling; padded positions are not counted (as in NAS-Bench-201).
    AvgPool {
        kernel: Win,
        stride: Win,
        pad: Win,
    },
    GlobalAvgPool,
    GlobalMaxPool,
    Flatten,
    Dropout {
        p: f64,
    },
    /// Squeeze-and-excite: channel weights from two linear layers (`squeeze`, `excite`).
    SqueezeExcite {
        squeeze: usize,
        excite: usize,
        c: usize,
        reduced: usize,
    },
    Identity,
    /// Zeros of the input's shape: "no edge" in a cell.
    Zero,
    Seq(Vec<Node>),
    /// `x + body(x)`; `proj` maps `x` to the body's shape where they differ.
    Residual {
        body: Box<Node>,
        proj: Option<Box<Node>>,
    },
    /// Branches on the same input, summed or concatenated along channels.
    Parallel {
        branches: Vec<Node>,
        concat: bool,
    },
    /// A cell: node 0 is the input, node j (> 0) sums `op(node i)` over its edges i → j, the
    /// last node is the output. A node with no edge in is zero.
    Dag {
        nodes: usize,
        edges: Vec<DagEdge>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DagEdge {
    pub from: usize,
    pub to: usize,
    pub op: Node,
}

/// A layer with the shapes it reads and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub layer: Layer,
    pub input: Shape,
    pub output: Shape,
}

/// A parametric unit, in the order the network's units are numbered.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Unit {
    Conv {
        cin: usize,
        cout: usize,
        kernel: Win,
        stride: Win,
        pad: Win,
        groups: usize,
        bias: bool,
    },
    BatchNorm {
        c: usize,
    },
    LayerNorm {
        c: usize,
    },
    Linear {
        fin: usize,
        fout: usize,
    },
    Attention {
        dim: usize,
        heads: usize,
    },
}

impl Unit {
    /// Trainable parameters (running statistics of batch norm are not parameters).
    pub fn params(&self) -> u64 {
        let p = match *self {
            Unit::Conv {
                cin,
                cout,
                kernel,
                groups,
                bias,
                ..
            } => cout * (cin / groups) * kernel[0] * kernel[1] + if bias { cout } else { 0 },
            Unit::BatchNorm { c } | Unit::LayerNorm { c } => 2 * c,
            Unit::Linear { fin, fout } => fin * fout + fout,
            Unit::Attention { dim, .. } => 4 * (dim * dim + dim),
        };
        p as u64
    }
}

/// A compiled network: its body (ending in the classifier) and its units.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    pub input: Shape,
    pub classes: usize,
    pub body: Node,
    pub units: Vec<Unit>,
}

impl Net {
    /// Trainable parameters.
    pub fn params(&self) -> u64 {
        self.units.iter().map(Unit::params).sum()
    }

    /// Multiply-accumulates of one forward pass on one example, the convention of
    /// NAS-Bench-201's and fvcore's "FLOPs": convolutions, linear layers (squeeze-excite's
    /// included) and attention's projections and products. Element-wise work (norms,
    /// activations, pooling, sums) is not counted.
    pub fn flops(&self) -> u64 {
        node_flops(&self.body)
    }

    /// The network's layers, one per line, indented by depth, with output shapes.
    pub fn summary(&self) -> String {
        let mut out = format!("input {}\n", self.input);
        summarize(&self.body, 0, &mut out);
        out
    }
}

fn node_flops(n: &Node) -> u64 {
    let pos = n.output.positions() as u64;
    match &n.layer {
        Layer::Conv {
            cin,
            cout,
            kernel,
            groups,
            ..
        } => pos * (*cout as u64) * (*cin / *groups) as u64 * (kernel[0] * kernel[1]) as u64,
        Layer::Linear { fin, fout, .. } => (*fin * *fout) as u64,
        Layer::Attention { dim, .. } => {
            let (d, l) = (*dim as u64, n.input.positions() as u64);
            // q, k, v and output projections, then scores q·kᵀ and their weighted sum of v.
            4 * l * d * d + 2 * l * l * d
        }
        Layer::SqueezeExcite { c, reduced, .. } => 2 * (*c * *reduced) as u64,
        Layer::Seq(v) => v.iter().map(node_flops).sum(),
        Layer::Residual { body, proj } => node_flops(body) + proj.as_deref().map_or(0, node_flops),
        Layer::Parallel { branches, .. } => branches.iter().map(node_flops).sum(),
        Layer::Dag { edges, .. } => edges.iter().map(|e| node_flops(&e.op)).sum(),
        _ => 0,
    }
}

fn summarize(n: &Node, depth: usize, out: &mut String) {
    use std::fmt::Write;
    let pad = "  ".repeat(depth + 1);
    let name = match &n.layer {
        Layer::Conv {
            cout,
            kernel,
            stride,
            groups,
            ..
        } => {
            let k = if kernel[0] == 1 {
                kernel[1].to_string()
            } else {
                format!("{}x{}", kernel[0], kernel[1])
            };
            let g = if *groups > 1 {
                format!(" groups {groups}")
            } else {
                String::new()
            };
            format!("conv {cout} k{k} s{}{g}", stride[1])
        }
        Layer::BatchNorm { .. } => "batch_norm".into(),
        Layer::LayerNorm { .. } => "layer_norm".into(),
        Layer::Linear { fout, .. } => format!("linear {fout}"),
        Layer::Attention { heads, .. } => format!("attention {heads} heads"),
        Layer::Act(a) => a.name().into(),
        Layer::MaxPool { kernel, stride, .. } => format!("max_pool {} s{}", kernel[1], stride[1]),
        Layer::AvgPool { kernel, stride, .. } => format!("avg_pool {} s{}", kernel[1], stride[1]),
        Layer::GlobalAvgPool => "global_avg_pool".into(),
        Layer::GlobalMaxPool => "global_max_pool".into(),
        Layer::Flatten => "flatten".into(),
        Layer::Dropout { p } => format!("dropout {p}"),
        Layer::SqueezeExcite { reduced, .. } => format!("squeeze_excite {reduced}"),
        Layer::Identity => "identity".into(),
        Layer::Zero => "zero".into(),
        Layer::Seq(v) => {
            for k in v {
                summarize(k, depth, out);
            }
            return;
        }
        Layer::Residual { body, proj } => {
            let _ = writeln!(
                out,
                "{pad}residual{} -> {}",
                if proj.is_some() { " (projected)" } else { "" },
                n.output
            );
            summarize(body, depth + 1, out);
            return;
        }
        Layer::Parallel { branches, concat } => {
            let _ = writeln!(
                out,
                "{pad}{} -> {}",
                if *concat { "concat" } else { "add" },
                n.output
            );
            for b in branches {
                summarize(b, depth + 1, out);
            }
            return;
        }
        Layer::Dag { nodes, edges } => {
            let _ = writeln!(out, "{pad}cell of {nodes} nodes -> {}", n.output);
            for e in edges {
                let _ = write!(out, "{pad}  {} -> {}:", e.from, e.to);
                let mut s = String::new();
                summarize(&e.op, 0, &mut s);
                let _ = writeln!(out, " {}", s.trim().split(" -> ").next().unwrap_or(""));
            }
            return;
        }
    };
    let _ = writeln!(out, "{pad}{name} -> {}", n.output);
}
