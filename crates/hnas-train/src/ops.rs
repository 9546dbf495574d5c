//! The model's convolution and ReLU. On burn's libtorch backend, while training, their
//! gradients are the kernels PyTorch's autograd runs: libtorch's fused `convolution_backward`
//! and `threshold_backward`. burn-tch leaves both to burn's generic forms (a transposed
//! convolution and a convolution over swapped axes with layout copies, which take twice as long
//! on the CPU; a comparison and a masked fill for ReLU). Everywhere else they are burn's own.

use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Tensor;

/// `conv`'s output for `x`.
pub fn conv(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let PaddingConfig2d::Explicit(top, left, bottom, right) = conv.padding else {
        return conv.forward(x);
    };
    let options = ConvOptions::new_with_padding(
        conv.stride,
        [(top, bottom), (left, right)],
        conv.dilation,
        conv.groups,
    );
    let weight = conv.weight.val();
    let bias = conv.bias.as_ref().map(|b| b.val());
    #[cfg(feature = "tch")]
    if let Some(y) = fused::conv2d(&x, &weight, bias.as_ref(), &options) {
        return y;
    }
    conv2d(x, weight, bias, options)
}

/// `max(x, 0)`.
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "tch")]
    if let Some(y) = fused::relu(&x) {
        return y;
    }
    burn::tensor::activation::relu(x)
}

/// Makes glibc keep freed tensor memory for reuse. libtorch allocates and frees every
/// activation and gradient each step with plain `malloc`; under glibc's defaults the large ones
/// go back to the kernel at once and are page-faulted in again on the next step, which cost a
/// fifth of a training step on the CPU (measured with `perf` on the throughput benchmark). With
/// these thresholds (freed blocks up to 32 MiB stay in the heap; up to 256 MiB of free heap top
/// is kept) the step is 1.2–1.3× faster. Called once, when the libtorch backend is chosen;
/// burn's own backend pools its memory and is unaffected.
pub fn keep_freed_memory() {
    #[cfg(all(feature = "tch", target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            extern "C" {
                fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
            }
            const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
            const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
            // SAFETY: mallopt only changes glibc's allocation thresholds; it is safe to call
            // at any time.
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_TRIM_THRESHOLD, 256 << 20);
            }
        });
    }
}

/// How many operations took the libtorch-gradient path in this process, while tracked for
/// gradients (tests check that it is taken).
pub fn fused_calls() -> usize {
    #[cfg(feature = "tch")]
    return fused::CALLS.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(feature = "tch"))]
    0
}

// burn marks its libtorch backend deprecated in favour of CubeCL ones; it is still the fastest
// CPU backend burn has.
#[cfg(feature = "tch")]
#[allow(deprecated)]
mod fused {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::autodiff::NodeId;
    use burn::backend::libtorch::TchTensor;
    use burn::backend::ops::{ActivationOps, ModuleOps};
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, LibTorch};
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::Tensor;
    use std::ffi::{c_char, c_int, CStr};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use torch_sys::C_tensor;

    /// The autodiff backend `device.autodiff()` gives on libtorch (no gradient checkpointing).
    type Ad = Autodiff<LibTorch, NoCheckpointing>;

    pub static CALLS: AtomicUsize = AtomicUsize::new(0);

    extern "C" {
        fn hnas_convolution_backward(
            grad_output: *mut C_tensor,
            input: *mut C_tensor,
            weight: *mut C_tensor,
            bias_size: i64,
            stride: *const i64,
            padding: *const i64,
            dilation: *const i64,
            dims: c_int,
            groups: i64,
            need_input: c_int,
            need_weight: c_int,
            grad_input: *mut *mut C_tensor,
            grad_weight: *mut *mut C_tensor,
            grad_bias: *mut *mut C_tensor,
            error: *mut *mut c_char,
        ) -> c_int;
    }

    /// The convolution as one autodiff operation whose backward is libtorch's; `None` when the
    /// tensors are not libtorch autodiff tensors or the padding is asymmetric (the caller then
    /// uses burn's convolution).
    pub fn conv2d(
        x: &Tensor<4>,
        weight: &Tensor<4>,
        bias: Option<&Tensor<1>>,
        options: &ConvOptions<2>,
    ) -> Option<Tensor<4>> {
        if options.is_asymmetric() {
            return None;
        }
        let x = x.clone().try_into_primitive::<Ad>().ok()?;
        let w = weight.clone().try_into_primitive::<Ad>().ok()?;
        let b = match bias {
            Some(b) => Some(b.clone().try_into_primitive::<Ad>().ok()?),
            None => None,
        };
        let out = match b {
            Some(b) => {
                let kind = FusedConv
                    .prepare::<NoCheckpointing>([x.node(), w.node(), b.node()])
                    .compute_bound()
                    .stateful();
                conv_op(kind, x, w, Some(b), options)
            }
            None => {
                let kind = FusedConv
                    .prepare::<NoCheckpointing>([x.node(), w.node()])
                    .compute_bound()
                    .stateful();
                conv_op(kind, x, w, None, options)
            }
        };
        Some(Tensor::from_primitive::<Ad>(out))
    }

    /// Runs the convolution, recording it for the backward pass when it is tracked; `N` is 3
    /// with a bias, else 2.
    fn conv_op<const N: usize>(
        kind: OpsKind<FusedConv, LibTorch, State, NoCheckpointing, N>,
        x: FloatTensor<Ad>,
        w: FloatTensor<Ad>,
        b: Option<FloatTensor<Ad>>,
        options: &ConvOptions<2>,
    ) -> FloatTensor<Ad> {
        let bias_size = b.as_ref().map_or(0, |_| w.primitive().tensor.size()[0]);
        let forward = |x: FloatTensor<Ad>, w: FloatTensor<Ad>, b: Option<FloatTensor<Ad>>| {
            LibTorch::conv2d(
                x.into_primitive(),
                w.into_primitive(),
                b.map(|b| b.into_primitive()),
                options.clone(),
            )
        };
        match kind {
            OpsKind::Tracked(mut prep) => {
                let state = State {
                    x: prep.checkpoint(&x),
                    w: prep.checkpoint(&w),
                    bias_size,
                    options: options.clone(),
                };
                CALLS.fetch_add(1, Ordering::Relaxed);
                prep.finish(state, forward(x, w, b))
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(x, w, b)),
        }
    }

    /// ReLU as one autodiff operation whose backward is libtorch's `threshold_backward`.
    pub fn relu<const D: usize>(x: &Tensor<D>) -> Option<Tensor<D>> {
        let x = x.clone().try_into_primitive::<Ad>().ok()?;
        let out = match FusedRelu
            .prepare::<NoCheckpointing>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let input = prep.checkpoint(&x);
                CALLS.fetch_add(1, Ordering::Relaxed);
                prep.finish(input, LibTorch::relu(x.into_primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(LibTorch::relu(x.into_primitive())),
        };
        Some(Tensor::from_primitive::<Ad>(out))
    }

    #[derive(Debug)]
    struct FusedRelu;

    impl Backward<LibTorch, 1> for FusedRelu {
        type State = NodeId;

        fn backward(
            self,
            ops: Ops<NodeId, 1>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let grad = grads.consume::<LibTorch>(&ops.node);
            let x: TchTensor = checkpointer.retrieve_node_output(ops.state);
            if let Some(node) = &ops.parents[0] {
                let g = x.tensor.threshold_backward(&grad.tensor, 0.0);
                grads.register::<LibTorch>(node.id, TchTensor::new(g));
            }
        }
    }

    #[derive(Debug)]
    struct FusedConv;

    #[derive(Debug, Clone)]
    struct State {
        x: NodeId,
        w: NodeId,
        /// Output channels when the convolution has a bias, else 0.
        bias_size: i64,
        options: ConvOptions<2>,
    }

    /// Parents: input, weight and, with `N = 3`, bias.
    impl<const N: usize> Backward<LibTorch, N> for FusedConv {
        type State = State;

        fn backward(
            self,
            ops: Ops<State, N>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let grad = grads.consume::<LibTorch>(&ops.node);
            let x: TchTensor = checkpointer.retrieve_node_output(ops.state.x);
            let w: TchTensor = checkpointer.retrieve_node_output(ops.state.w);
            let need_bias = N == 3 && ops.parents[2].is_some();
            let (gx, gw, gb) = convolution_backward(
                &grad.tensor,
                &x.tensor,
                &w.tensor,
                if need_bias { ops.state.bias_size } else { 0 },
                &ops.state.options,
                ops.parents[0].is_some(),
                ops.parents[1].is_some(),
            );
            let slots = [gx, gw, gb];
            for (parent, g) in ops.parents.iter().zip(slots) {
                if let (Some(node), Some(g)) = (parent, g) {
                    grads.register::<LibTorch>(node.id, TchTensor::new(g));
                }
            }
        }
    }

    type Grads = (
        Option<tch::Tensor>,
        Option<tch::Tensor>,
        Option<tch::Tensor>,
    );

    fn convolution_backward(
        grad: &tch::Tensor,
        x: &tch::Tensor,
        w: &tch::Tensor,
        bias_size: i64,
        options: &ConvOptions<2>,
        need_input: bool,
        need_weight: bool,
    ) -> Grads {
        let stride = options.stride.map(|v| v as i64);
        let padding = options.padding_begin().map(|v| v as i64);
        let dilation = options.dilation.map(|v| v as i64);
        let mut out = [std::ptr::null_mut(); 3];
        let mut error: *mut c_char = std::ptr::null_mut();
        // SAFETY: the tensors outlive the call; the shim only reads them, and hands back new
        // tensors (owned by the returned `tch::Tensor`s) or a malloc'ed message.
        let status = unsafe {
            hnas_convolution_backward(
                grad.as_ptr() as *mut C_tensor,
                x.as_ptr() as *mut C_tensor,
                w.as_ptr() as *mut C_tensor,
                bias_size,
                stride.as_ptr(),
                padding.as_ptr(),
                dilation.as_ptr(),
                2,
                options.groups as i64,
                need_input as c_int,
                need_weight as c_int,
                &mut out[0],
                &mut out[1],
                &mut out[2],
                &mut error,
            )
        };
        if status != 0 {
            // SAFETY: on failure the shim set `error` to a NUL-terminated malloc'ed string.
            let message = unsafe {
                let text = CStr::from_ptr(error).to_string_lossy().into_owned();
                libc_free(error.cast());
                text
            };
            // Burn's backward pass has no error channel; libtorch rejecting shapes that its own
            // forward accepted is a bug, not a trial failure.
            panic!("libtorch convolution_backward failed: {message}");
        }
        // SAFETY: a non-null pointer is a tensor the shim allocated for the caller to own.
        let take = |p: *mut C_tensor| (!p.is_null()).then(|| unsafe { tch::Tensor::from_ptr(p) });
        (take(out[0]), take(out[1]), take(out[2]))
    }

    extern "C" {
        #[link_name = "free"]
        fn libc_free(p: *mut std::ffi::c_void);
    }
}
