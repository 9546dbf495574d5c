//! BigNAS-style weight slicing: units made at one place that differ only in width or kernel
//! size are one set of weights, held at the largest size met. A narrower unit uses the first
//! output and input channels (features) of it, and a smaller kernel its centre, as BigNAS and
//! OFA do; gradients reach the shared weights through the slice.
//!
//! Sliced: plain convolutions (one group), depthwise convolutions, batch norms and linear
//! layers. Grouped convolutions, layer norms and attention are shared by exact shape only.
//! A sliced batch norm's running statistics start from the shared ones and are not written
//! back while training: every score recalibrates a candidate's own.

use crate::model::UnitModule;
use crate::net::Unit;
use burn::module::{Param, ParamId, RunningState};
use burn::nn::PaddingConfig2d;
use burn::tensor::Tensor;
use std::ops::Range;

/// What must match, besides the place, for two units to share sliced weights; `None` for a
/// unit shared by exact shape only.
pub(crate) fn kind(u: &Unit) -> Option<String> {
    match *u {
        Unit::Conv {
            stride,
            groups: 1,
            bias,
            ..
        } => Some(format!("conv stride {stride:?} bias {bias}")),
        Unit::Conv {
            cin,
            cout,
            stride,
            groups,
            bias,
            ..
        } if groups == cin && cin == cout => {
            Some(format!("depthwise conv stride {stride:?} bias {bias}"))
        }
        Unit::BatchNorm { .. } => Some("batch norm".into()),
        Unit::Linear { .. } => Some("linear".into()),
        _ => None,
    }
}

/// The weight tensor's extents: `[out, in per group, kh, kw]`, `[c]` or `[in, out]`.
fn extents(u: &Unit) -> Vec<usize> {
    match *u {
        Unit::Conv {
            cin,
            cout,
            kernel,
            groups,
            ..
        } => vec![cout, cin / groups, kernel[0], kernel[1]],
        Unit::BatchNorm { c } | Unit::LayerNorm { c } => vec![c],
        Unit::Linear { fin, fout } => vec![fin, fout],
        Unit::Attention { dim, .. } => vec![dim],
    }
}

/// Whether `want`'s weights are a slice of `stored`'s.
pub(crate) fn fits(stored: &Unit, want: &Unit) -> bool {
    let (a, b) = (extents(stored), extents(want));
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x >= y)
}

/// The unit of the larger extent of each of `stored` and `want` (both of one [`kind`]), or
/// `None` when `want` fits in `stored` already.
pub(crate) fn covering(stored: &Unit, want: &Unit) -> Option<Unit> {
    if fits(stored, want) {
        return None;
    }
    Some(match (stored.clone(), want.clone()) {
        (
            Unit::Conv {
                cin,
                cout,
                kernel,
                stride,
                pad,
                groups,
                bias,
            },
            Unit::Conv {
                cin: cin2,
                cout: cout2,
                kernel: k2,
                pad: pad2,
                ..
            },
        ) => {
            let kernel = [kernel[0].max(k2[0]), kernel[1].max(k2[1])];
            let pad = [pad[0].max(pad2[0]), pad[1].max(pad2[1])];
            if groups == 1 {
                Unit::Conv {
                    cin: cin.max(cin2),
                    cout: cout.max(cout2),
                    kernel,
                    stride,
                    pad,
                    groups: 1,
                    bias,
                }
            } else {
                let c = cout.max(cout2);
                Unit::Conv {
                    cin: c,
                    cout: c,
                    kernel,
                    stride,
                    pad,
                    groups: c,
                    bias,
                }
            }
        }
        (Unit::BatchNorm { c }, Unit::BatchNorm { c: c2 }) => Unit::BatchNorm { c: c.max(c2) },
        (Unit::Linear { fin, fout }, Unit::Linear { fin: f2, fout: o2 }) => Unit::Linear {
            fin: fin.max(f2),
            fout: fout.max(o2),
        },
        // Other kinds are keyed by exact shape and never meet a different one.
        (s, _) => s,
    })
}

/// Leading ranges of `inner` in `outer`, kernel dimensions (the last two of four) centred.
fn ranges<const D: usize>(outer: [usize; D], inner: [usize; D]) -> [Range<usize>; D] {
    std::array::from_fn(|i| {
        let start = if D == 4 && i >= 2 {
            (outer[i] - inner[i]) / 2
        } else {
            0
        };
        start..start + inner[i]
    })
}

/// A slice of a shared parameter: a new parameter whose value is computed from the shared
/// one, so that a backward pass reaches the shared one.
fn sliced<const D: usize>(p: &Param<Tensor<D>>, inner: [usize; D]) -> Param<Tensor<D>> {
    let outer = p.dims();
    Param::initialized(ParamId::new(), p.val().slice(ranges(outer, inner)))
}

/// `outer` with `inner`'s values in its leading (kernel: centred) slice, keeping `outer`'s
/// identity (an optimizer's state follows it).
fn written<const D: usize>(outer: &Param<Tensor<D>>, inner: &Param<Tensor<D>>) -> Param<Tensor<D>> {
    let r = ranges(outer.dims(), inner.dims());
    let value = outer.val().detach().slice_assign(r, inner.val().detach());
    // A new leaf: the assignment is not part of any network's graph.
    Param::initialized(outer.id, value.detach().require_grad())
}

// burn takes one range per dimension: a one-element array is the 1-D slice, not a mistake.
#[allow(clippy::single_range_in_vec_init)]
fn sliced_state(s: &RunningState<Tensor<1>>, c: usize) -> RunningState<Tensor<1>> {
    RunningState::new(s.value_sync().slice([0..c]))
}

#[allow(clippy::single_range_in_vec_init)]
fn written_state(
    outer: &RunningState<Tensor<1>>,
    inner: &RunningState<Tensor<1>>,
) -> RunningState<Tensor<1>> {
    let (o, i) = (outer.value_sync(), inner.value_sync());
    let c = i.dims()[0];
    RunningState::new(o.slice_assign([0..c], i))
}

/// The module of `want` whose weights are a slice of `stored` (a unit that [`fits`]).
pub(crate) fn view(stored: &UnitModule, want: &Unit) -> UnitModule {
    match (stored, want.clone()) {
        (
            UnitModule::Conv(conv),
            Unit::Conv {
                cin,
                cout,
                kernel,
                stride,
                pad,
                groups,
                ..
            },
        ) => {
            let shape = [cout, cin / groups, kernel[0], kernel[1]];
            if conv.weight.dims() == shape {
                return stored.clone();
            }
            let mut v = conv.clone();
            v.weight = sliced(&conv.weight, shape);
            v.bias = conv.bias.as_ref().map(|b| sliced(b, [cout]));
            v.kernel_size = kernel;
            v.stride = stride;
            v.groups = groups;
            v.padding = PaddingConfig2d::Explicit(pad[0], pad[1], pad[0], pad[1]);
            UnitModule::Conv(v)
        }
        (UnitModule::BatchNorm(bn), Unit::BatchNorm { c }) => {
            if bn.gamma.dims() == [c] {
                return stored.clone();
            }
            let mut v = bn.clone();
            v.gamma = sliced(&bn.gamma, [c]);
            v.beta = sliced(&bn.beta, [c]);
            v.running_mean = sliced_state(&bn.running_mean, c);
            v.running_var = sliced_state(&bn.running_var, c);
            UnitModule::BatchNorm(v)
        }
        (UnitModule::Linear(l), Unit::Linear { fin, fout }) => {
            if l.weight.dims() == [fin, fout] {
                return stored.clone();
            }
            let mut v = l.clone();
            v.weight = sliced(&l.weight, [fin, fout]);
            v.bias = l.bias.as_ref().map(|b| sliced(b, [fout]));
            UnitModule::Linear(v)
        }
        _ => stored.clone(),
    }
}

/// `outer` with `inner`'s weights written into its leading slice: a grown unit keeping what
/// the smaller one learnt, or a candidate's edited weights put back into the shared ones.
pub(crate) fn embed(outer: &UnitModule, inner: &UnitModule) -> UnitModule {
    match (outer, inner) {
        (UnitModule::Conv(o), UnitModule::Conv(i)) => {
            let mut v = o.clone();
            v.weight = written(&o.weight, &i.weight);
            if let (Some(ob), Some(ib)) = (&o.bias, &i.bias) {
                v.bias = Some(written(ob, ib));
            }
            UnitModule::Conv(v)
        }
        (UnitModule::BatchNorm(o), UnitModule::BatchNorm(i)) => {
            let mut v = o.clone();
            v.gamma = written(&o.gamma, &i.gamma);
            v.beta = written(&o.beta, &i.beta);
            v.running_mean = written_state(&o.running_mean, &i.running_mean);
            v.running_var = written_state(&o.running_var, &i.running_var);
            UnitModule::BatchNorm(v)
        }
        (UnitModule::Linear(o), UnitModule::Linear(i)) => {
            let mut v = o.clone();
            v.weight = written(&o.weight, &i.weight);
            if let (Some(ob), Some(ib)) = (&o.bias, &i.bias) {
                v.bias = Some(written(ob, ib));
            }
            UnitModule::Linear(v)
        }
        _ => inner.clone(),
    }
}
