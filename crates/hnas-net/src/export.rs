//! A compiled network as PyTorch source: one `nn.Module` whose layers and forward pass are the
//! net's, so that a PyTorch user can train the architecture a search found. Parameters are
//! counted as hnas counts them (batch norm's running statistics are buffers in PyTorch too).

use crate::net::{Act, Layer, Net, Node, Shape, Unit};
use std::fmt::Write;

/// Python source defining `class Net(nn.Module)` for `net`; `header` lines become comments at
/// the top (where the network came from).
pub fn pytorch(net: &Net, header: &[String]) -> String {
    let mut out = String::new();
    for h in header {
        for line in h.lines() {
            let _ = writeln!(out, "# {line}");
        }
    }
    let [c, h, w] = net.input.chw();
    let input = match net.input {
        Shape::Seq { c, l } => format!("sequences of {c} channel(s) × {l}: [batch, {c}, {l}] (or [batch, {l}] for one channel)"),
        Shape::Image { c, h, w } => format!("images [batch, {c}, {h}, {w}]"),
        Shape::Flat { f } => format!("vectors [batch, {f}]"),
    };
    let _ = writeln!(
        out,
        "# Input: {input}. Output: logits [batch, {}].\n# {} parameters, {} multiply-accumulates per example (hnas's counts).\n",
        net.classes,
        net.params(),
        net.flops()
    );
    out.push_str("import torch\nfrom torch import nn\nimport torch.nn.functional as F\n\n\n");
    out.push_str("class Net(nn.Module):\n");
    out.push_str("    def __init__(self):\n        super().__init__()\n        self.units = nn.ModuleList([\n");
    for (i, u) in net.units.iter().enumerate() {
        let _ = writeln!(out, "            {},  # {i}", unit(u));
    }
    out.push_str("        ])\n\n");
    out.push_str("    def forward(self, x):\n");
    out.push_str("        u = self.units\n");
    let _ = writeln!(
        out,
        "        # Every tensor is [batch, channels, height, width]: a sequence has height 1.\n        x = x.reshape(x.shape[0], {c}, {h}, {w})"
    );
    let mut e = Emitter {
        lines: Vec::new(),
        next: 0,
    };
    let y = e.node(&net.body, "x".into());
    for l in &e.lines {
        let _ = writeln!(out, "        {l}");
    }
    let _ = writeln!(out, "        return {y}.flatten(1)\n\n");
    let _ = writeln!(
        out,
        "if __name__ == \"__main__\":\n    net = Net()\n    print(net(torch.zeros(2, {c}, {h}, {w})).shape, sum(p.numel() for p in net.parameters()), \"parameters\")"
    );
    out
}

fn unit(u: &Unit) -> String {
    match *u {
        Unit::Conv {
            cin,
            cout,
            kernel,
            stride,
            pad,
            groups,
            bias,
        } => format!(
            "nn.Conv2d({cin}, {cout}, kernel_size=({}, {}), stride=({}, {}), padding=({}, {}), groups={groups}, bias={})",
            kernel[0],
            kernel[1],
            stride[0],
            stride[1],
            pad[0],
            pad[1],
            if bias { "True" } else { "False" }
        ),
        Unit::BatchNorm { c } => format!("nn.BatchNorm2d({c})"),
        Unit::LayerNorm { c } => format!("nn.LayerNorm({c})"),
        Unit::Linear { fin, fout } => format!("nn.Linear({fin}, {fout})"),
        Unit::Attention { dim, heads } => format!("nn.MultiheadAttention({dim}, {heads}, batch_first=True)"),
    }
}

struct Emitter {
    lines: Vec<String>,
    next: usize,
}

impl Emitter {
    fn var(&mut self) -> String {
        self.next += 1;
        format!("t{}", self.next)
    }

    fn set(&mut self, expr: String) -> String {
        let v = self.var();
        self.lines.push(format!("{v} = {expr}"));
        v
    }

    fn node(&mut self, n: &Node, x: String) -> String {
        match &n.layer {
            Layer::Conv { unit, .. } | Layer::BatchNorm { unit, .. } => {
                self.set(format!("u[{unit}]({x})"))
            }
            Layer::LayerNorm { unit, .. } => self.set(format!(
                "u[{unit}]({x}.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)"
            )),
            Layer::Linear { unit, .. } => {
                self.set(format!("u[{unit}]({x}.flatten(1))[:, :, None, None]"))
            }
            Layer::Attention { unit, .. } => {
                let t = self.set(format!("{x}.flatten(2).transpose(1, 2)"));
                let a = self.set(format!("u[{unit}]({t}, {t}, {t}, need_weights=False)[0]"));
                self.set(format!("{a}.transpose(1, 2).reshape({x}.shape)"))
            }
            Layer::Act(a) => self.set(format!(
                "{}({x})",
                match a {
                    Act::Relu => "F.relu",
                    Act::Gelu => "F.gelu",
                    Act::Hswish => "F.hardswish",
                    Act::Silu => "F.silu",
                    Act::Tanh => "torch.tanh",
                    Act::Sigmoid => "torch.sigmoid",
                }
            )),
            Layer::MaxPool {
                kernel,
                stride,
                pad,
            } => self.set(format!(
                "F.max_pool2d({x}, ({}, {}), ({}, {}), ({}, {}))",
                kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[1]
            )),
            Layer::AvgPool {
                kernel,
                stride,
                pad,
            } => self.set(format!(
                "F.avg_pool2d({x}, ({}, {}), ({}, {}), ({}, {}), count_include_pad=False)",
                kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[1]
            )),
            Layer::GlobalAvgPool => self.set(format!("{x}.mean((2, 3), keepdim=True)")),
            Layer::GlobalMaxPool => self.set(format!("{x}.amax((2, 3), keepdim=True)")),
            Layer::Flatten => self.set(format!("{x}.flatten(1)[:, :, None, None]")),
            Layer::Dropout { p } => self.set(format!("F.dropout({x}, {p}, self.training)")),
            Layer::SqueezeExcite {
                squeeze, excite, ..
            } => {
                let s = self.set(format!("F.relu(u[{squeeze}]({x}.mean((2, 3))))"));
                let s = self.set(format!("torch.sigmoid(u[{excite}]({s}))"));
                self.set(format!("{x} * {s}[:, :, None, None]"))
            }
            Layer::Identity => x,
            Layer::Zero => self.set(format!("torch.zeros_like({x})")),
            Layer::Seq(v) => v.iter().fold(x, |acc, k| self.node(k, acc)),
            Layer::Residual { body, proj } => {
                let skip = match proj {
                    Some(p) => self.node(p, x.clone()),
                    None => x.clone(),
                };
                let y = self.node(body, x);
                self.set(format!("{y} + {skip}"))
            }
            Layer::Parallel { branches, concat } => {
                let outs: Vec<String> = branches.iter().map(|b| self.node(b, x.clone())).collect();
                if *concat {
                    self.set(format!("torch.cat([{}], dim=1)", outs.join(", ")))
                } else {
                    self.set(outs.join(" + "))
                }
            }
            Layer::Dag { nodes, edges } => {
                let mut vals: Vec<Option<String>> = vec![None; *nodes];
                vals[0] = Some(x.clone());
                for e in edges {
                    let input = vals[e.from]
                        .clone()
                        .unwrap_or_else(|| format!("torch.zeros_like({x})"));
                    let y = self.node(&e.op, input);
                    vals[e.to] = Some(match vals[e.to].take() {
                        Some(acc) => self.set(format!("{acc} + {y}")),
                        None => y,
                    });
                }
                match vals[*nodes - 1].take() {
                    Some(v) => v,
                    None => self.set(format!("torch.zeros_like({x})")),
                }
            }
        }
    }
}
