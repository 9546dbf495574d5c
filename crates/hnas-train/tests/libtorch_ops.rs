//! With the `tch` feature: the convolution and ReLU whose gradients are libtorch's own kernels
//! give the gradients burn's pure-Rust backend gives, for the shapes hnas's spaces use.
//! Run with `LIBTORCH_USE_PYTORCH=1 cargo test -p hnas-train --features tch` (and torch's
//! `lib/` on `LD_LIBRARY_PATH`).
#![cfg(feature = "tch")]

use burn::module::Param;
use burn::nn::conv::Conv2dConfig;
use burn::nn::PaddingConfig2d;
use burn::tensor::{Device, Tensor, TensorData};
use hnas_train::ops;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;

/// The count of libtorch-path calls is process-wide: tests that read it take turns.
static COUNTER: Mutex<()> = Mutex::new(());

struct Case {
    input: [usize; 4],
    cout: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    groups: usize,
    bias: bool,
    relu: bool,
}

fn values(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Gradients of `sum(r * relu?(conv(x)))` for x, weight and bias on `device`, and the output.
fn grads(case: &Case, device: &Device, seed: u64) -> [Vec<f32>; 4] {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let [n, c, h, w] = case.input;
    let x = TensorData::new(values(n * c * h * w, &mut rng), case.input);
    let wshape = [case.cout, c / case.groups, case.kernel[0], case.kernel[1]];
    let wdata = TensorData::new(values(wshape.iter().product(), &mut rng), wshape);
    let bdata = TensorData::new(values(case.cout, &mut rng), [case.cout]);

    let mut conv = Conv2dConfig::new([c, case.cout], case.kernel)
        .with_stride(case.stride)
        .with_groups(case.groups)
        .with_bias(case.bias)
        .with_padding(PaddingConfig2d::Explicit(
            case.pad[0],
            case.pad[1],
            case.pad[0],
            case.pad[1],
        ))
        .init(device);
    conv.weight = Param::from_tensor(Tensor::<4>::from_data(wdata, device).require_grad());
    if case.bias {
        conv.bias = Some(Param::from_tensor(
            Tensor::<1>::from_data(bdata, device).require_grad(),
        ));
    }
    let x = Tensor::<4>::from_data(x, device).require_grad();
    let mut y = ops::conv(&conv, x.clone());
    if case.relu {
        y = ops::relu(y);
    }
    let dims = y.dims();
    let r = TensorData::new(values(dims.iter().product(), &mut rng), dims);
    let loss = (y.clone() * Tensor::<4>::from_data(r, device)).sum();
    let g = loss.backward();
    let read = |t: Option<Tensor<4>>| t.map(|t| t.into_data().try_to_vec::<f32>().unwrap());
    let gb = conv
        .bias
        .as_ref()
        .and_then(|b| b.val().grad(&g))
        .map(|t| t.into_data().try_to_vec::<f32>().unwrap())
        .unwrap_or_default();
    [
        read(x.grad(&g)).expect("input gradient"),
        read(conv.weight.val().grad(&g)).expect("weight gradient"),
        gb,
        y.into_data().try_to_vec::<f32>().unwrap(),
    ]
}

fn assert_close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let tol = 1e-3 * (1.0 + x.abs().max(y.abs()));
        assert!(
            (x - y).abs() <= tol,
            "{what}[{i}]: libtorch {x} vs burn {y}"
        );
    }
}

#[allow(deprecated)]
#[test]
fn libtorch_gradients_equal_burns() {
    let cases = [
        // The throughput benchmark's first layer: one input channel, bias, ReLU.
        Case {
            input: [4, 1, 12, 12],
            cout: 8,
            kernel: [3, 3],
            stride: [1, 1],
            pad: [1, 1],
            groups: 1,
            bias: true,
            relu: true,
        },
        // A strided 1-D convolution over a sequence (height 1), without bias.
        Case {
            input: [3, 6, 1, 40],
            cout: 10,
            kernel: [1, 5],
            stride: [1, 2],
            pad: [0, 2],
            groups: 1,
            bias: false,
            relu: true,
        },
        // Depthwise (groups = channels), as MBConv and separable convolutions use.
        Case {
            input: [2, 8, 9, 9],
            cout: 8,
            kernel: [3, 3],
            stride: [2, 2],
            pad: [1, 1],
            groups: 8,
            bias: false,
            relu: false,
        },
        // Grouped, with bias.
        Case {
            input: [2, 6, 7, 5],
            cout: 9,
            kernel: [3, 1],
            stride: [1, 1],
            pad: [1, 0],
            groups: 3,
            bias: true,
            relu: false,
        },
    ];
    let _turn = COUNTER.lock().unwrap_or_else(|e| e.into_inner());
    let torch = Device::libtorch().autodiff();
    let flex = Device::flex().autodiff();
    for (k, case) in cases.iter().enumerate() {
        let before = ops::fused_calls();
        let t = grads(case, &torch, k as u64);
        let expected = 1 + case.relu as usize;
        assert_eq!(
            ops::fused_calls() - before,
            expected,
            "case {k}: the libtorch path was not taken"
        );
        let f = grads(case, &flex, k as u64);
        for (what, i) in [
            ("output", 3),
            ("input grad", 0),
            ("weight grad", 1),
            ("bias grad", 2),
        ] {
            assert_close(&format!("case {k} {what}"), &t[i], &f[i]);
        }
    }
}

#[allow(deprecated)]
#[test]
fn untracked_libtorch_tensors_use_burns_path() {
    // Inference (no autodiff) never enters the custom operation.
    let _turn = COUNTER.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::libtorch();
    let conv = Conv2dConfig::new([2, 3], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(&device);
    let before = ops::fused_calls();
    let y = ops::relu(ops::conv(&conv, Tensor::<4>::ones([1, 2, 5, 5], &device)));
    assert_eq!(y.dims(), [1, 3, 5, 5]);
    assert!(y
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
        .iter()
        .all(|v| *v >= 0.0));
    assert_eq!(ops::fused_calls(), before);
}
