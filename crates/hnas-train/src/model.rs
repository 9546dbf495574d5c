//! A compiled [`Net`] as a burn module: its parametric units in one list, run by walking the
//! net's layer tree. Every tensor is `[batch, channels, height, width]`: a sequence has height
//! 1, a flat vector is `[batch, features, 1, 1]`.

use crate::net::{Act, Layer, Net, Node, Unit};
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::tensor::activation;
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;

/// One parametric unit. Variants differ in size; a network holds tens of them, so boxing
/// would buy nothing.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum UnitModule {
    Conv(Conv2d),
    BatchNorm(BatchNorm),
    LayerNorm(LayerNorm),
    Linear(Linear),
    Attention(MultiHeadAttention),
}

/// The trainable part of a network: one module per [`Unit`], in the net's numbering.
#[derive(Module, Debug)]
pub struct Model {
    pub units: Vec<UnitModule>,
}

/// The backend's random generator is process-wide: initialization holds this lock so that a
/// seed gives the same weights whatever else runs in the process.
static INIT: Mutex<()> = Mutex::new(());

impl Model {
    /// Fresh weights for `net` on `device`, the same for the same seed.
    pub fn init(net: &Net, device: &Device, seed: u64) -> Model {
        let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
        device.seed(seed);
        let units = net.units.iter().map(|u| init_unit(u, device)).collect();
        let model = Model { units };
        // burn draws a parameter's initial values when it is first read: read them all now,
        // while the seed and the lock hold.
        model.visit(&mut Materialize);
        model
    }
}

impl UnitModule {
    /// Fresh weights for one unit, the same for the same seed (a supernet grows its pool of
    /// shared units one at a time, each seeded by its own place).
    pub fn init(u: &Unit, device: &Device, seed: u64) -> UnitModule {
        let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
        device.seed(seed);
        let unit = init_unit(u, device);
        unit.visit(&mut Materialize);
        unit
    }
}

struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

fn init_unit(u: &Unit, device: &Device) -> UnitModule {
    match *u {
        Unit::Conv {
            cin,
            cout,
            kernel,
            stride,
            pad,
            groups,
            bias,
        } => UnitModule::Conv(
            Conv2dConfig::new([cin, cout], kernel)
                .with_stride(stride)
                .with_groups(groups)
                .with_bias(bias)
                .with_padding(PaddingConfig2d::Explicit(pad[0], pad[1], pad[0], pad[1]))
                .init(device),
        ),
        Unit::BatchNorm { c } => UnitModule::BatchNorm(BatchNormConfig::new(c).init(device)),
        Unit::LayerNorm { c } => UnitModule::LayerNorm(LayerNormConfig::new(c).init(device)),
        Unit::Linear { fin, fout } => UnitModule::Linear(LinearConfig::new(fin, fout).init(device)),
        Unit::Attention { dim, heads } => UnitModule::Attention(
            // Dropout inside attention would draw from the backend's shared generator.
            MultiHeadAttentionConfig::new(dim, heads)
                .with_dropout(0.0)
                .init(device),
        ),
    }
}

/// Runs a net's layers over a model's units. `dropout` holds the generator for dropout masks
/// while training (`None`: inference).
pub struct Forward<'a> {
    pub net: &'a Net,
    pub model: &'a Model,
    pub dropout: Option<&'a mut ChaCha8Rng>,
    /// What zero-cost proxies change or read in a pass (`None`: a plain pass).
    pub probe: Option<&'a mut Probe>,
}

/// A zero-cost proxy's view into a forward pass.
#[derive(Default)]
pub struct Probe {
    /// Batch norm passes its input through (SynFlow scores the network without it).
    pub skip_batch_norm: bool,
    /// Record which units each activation switches on: one `[batch, units]` tensor of 0/1
    /// per activation layer (NASWOT's binary codes).
    pub record_codes: bool,
    pub codes: Vec<Tensor<2>>,
}

impl Forward<'_> {
    /// Logits `[batch, classes]` for inputs `[batch, c, h, w]`.
    pub fn logits(&mut self, x: Tensor<4>) -> Tensor<2> {
        let y = self.run(&self.net.body, x);
        let [b, c, _, _] = y.dims();
        y.reshape([b, c])
    }

    fn unit(&self, i: usize) -> &UnitModule {
        &self.model.units[i]
    }

    fn linear(&self, unit: usize, x: Tensor<4>) -> Tensor<4> {
        let UnitModule::Linear(l) = self.unit(unit) else {
            unreachable!("unit {unit} is a linear layer")
        };
        let [b, f, h, w] = x.dims();
        let y = l.forward(x.reshape([b, f * h * w]));
        let [_, o] = y.dims();
        y.reshape([b, o, 1, 1])
    }

    pub(crate) fn run(&mut self, n: &Node, x: Tensor<4>) -> Tensor<4> {
        match &n.layer {
            Layer::Conv { unit, .. } => match self.unit(*unit) {
                UnitModule::Conv(c) => crate::ops::conv(c, x),
                _ => unreachable!("unit {unit} is a convolution"),
            },
            Layer::BatchNorm { .. } if self.probe.as_ref().is_some_and(|p| p.skip_batch_norm) => x,
            Layer::BatchNorm { unit, .. } => match self.unit(*unit) {
                UnitModule::BatchNorm(bn) => bn.forward(x),
                _ => unreachable!("unit {unit} is a batch norm"),
            },
            Layer::LayerNorm { unit, .. } => match self.unit(*unit) {
                UnitModule::LayerNorm(ln) => {
                    ln.forward(x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2])
                }
                _ => unreachable!("unit {unit} is a layer norm"),
            },
            Layer::Linear { unit, .. } => self.linear(*unit, x),
            Layer::Attention { unit, .. } => match self.unit(*unit) {
                UnitModule::Attention(mha) => {
                    let [b, c, h, w] = x.dims();
                    let tokens = x.reshape([b, c, h * w]).swap_dims(1, 2);
                    let y = mha.forward(MhaInput::self_attn(tokens)).context;
                    y.swap_dims(1, 2).reshape([b, c, h, w])
                }
                _ => unreachable!("unit {unit} is attention"),
            },
            Layer::Act(a) => {
                if let Some(p) = self.probe.as_deref_mut().filter(|p| p.record_codes) {
                    let [b, c, h, w] = x.dims();
                    p.codes.push(
                        x.clone()
                            .detach()
                            .greater_elem(0.0)
                            .float()
                            .reshape([b, c * h * w]),
                    );
                }
                act(*a, x)
            }
            Layer::MaxPool {
                kernel,
                stride,
                pad,
            } => max_pool2d(
                x,
                MaxPoolOptions::new(*kernel)
                    .with_stride(*stride)
                    .with_padding_pairs([(pad[0], pad[0]), (pad[1], pad[1])]),
            ),
            Layer::AvgPool {
                kernel,
                stride,
                pad,
            } => avg_pool2d(
                x,
                AvgPoolOptions::new(*kernel)
                    .with_stride(*stride)
                    .with_padding_pairs([(pad[0], pad[0]), (pad[1], pad[1])])
                    .with_count_include_pad(false),
            ),
            Layer::GlobalAvgPool => {
                let [b, c, h, w] = x.dims();
                x.reshape([b, c, h * w]).mean_dim(2).reshape([b, c, 1, 1])
            }
            Layer::GlobalMaxPool => {
                let [b, c, h, w] = x.dims();
                x.reshape([b, c, h * w]).max_dim(2).reshape([b, c, 1, 1])
            }
            Layer::Flatten => {
                let [b, c, h, w] = x.dims();
                x.reshape([b, c * h * w, 1, 1])
            }
            Layer::Dropout { p } => match self.dropout.as_deref_mut() {
                Some(rng) if *p > 0.0 => {
                    let dims = x.dims();
                    let n: usize = dims.iter().product();
                    let keep = 1.0 - *p;
                    let mask: Vec<f32> = (0..n)
                        .map(|_| {
                            if rng.random::<f64>() < keep {
                                (1.0 / keep) as f32
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    let m = Tensor::<4>::from_data(TensorData::new(mask, dims), &x.device());
                    x * m
                }
                _ => x,
            },
            Layer::SqueezeExcite {
                squeeze, excite, ..
            } => {
                let [b, c, h, w] = x.dims();
                let s = x
                    .clone()
                    .reshape([b, c, h * w])
                    .mean_dim(2)
                    .reshape([b, c, 1, 1]);
                let s = crate::ops::relu(self.linear(*squeeze, s));
                let s = activation::sigmoid(self.linear(*excite, s));
                x * s
            }
            Layer::Identity => x,
            Layer::Zero => x.zeros_like(),
            Layer::Seq(v) => v.iter().fold(x, |acc, k| self.run(k, acc)),
            Layer::Residual { body, proj } => {
                let skip = match proj {
                    Some(p) => self.run(p, x.clone()),
                    None => x.clone(),
                };
                self.run(body, x) + skip
            }
            Layer::Parallel { branches, concat } => {
                let outs: Vec<Tensor<4>> =
                    branches.iter().map(|b| self.run(b, x.clone())).collect();
                if *concat {
                    Tensor::cat(outs, 1)
                } else {
                    outs.into_iter().reduce(|a, b| a + b).expect("a branch")
                }
            }
            Layer::Dag { nodes, edges } => {
                let mut vals: Vec<Option<Tensor<4>>> = vec![None; *nodes];
                vals[0] = Some(x.clone());
                for e in edges {
                    let input = vals[e.from].clone().unwrap_or_else(|| x.zeros_like());
                    let y = self.run(&e.op, input);
                    vals[e.to] = Some(match vals[e.to].take() {
                        Some(acc) => acc + y,
                        None => y,
                    });
                }
                vals[*nodes - 1].take().unwrap_or_else(|| x.zeros_like())
            }
        }
    }
}

fn act(a: Act, x: Tensor<4>) -> Tensor<4> {
    match a {
        Act::Relu => crate::ops::relu(x),
        Act::Gelu => activation::gelu(x),
        Act::Hswish => activation::hard_swish(x),
        Act::Silu => activation::silu(x),
        Act::Tanh => activation::tanh(x),
        Act::Sigmoid => activation::sigmoid(x),
    }
}
