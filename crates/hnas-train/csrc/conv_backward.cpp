// libtorch's fused convolution gradient (the kernel PyTorch's autograd calls), for hnas's
// `tch` backend: tch 0.22 has no binding for `at::convolution_backward`, and burn-tch leaves
// convolution gradients to burn's generic decomposition, which is twice as slow on the CPU.
#include <ATen/core/Tensor.h>
#include <ATen/ops/convolution_backward.h>
#include <array>
#include <cstring>
#include <string>

static char *copy_message(const char *what) {
  size_t n = std::strlen(what);
  char *out = static_cast<char *>(std::malloc(n + 1));
  if (out != nullptr) {
    std::memcpy(out, what, n + 1);
  }
  return out;
}

// Gradients of `conv(input, weight, bias)` given the output's gradient. `dims` spatial
// dimensions; `stride`, `padding`, `dilation` have `dims` entries. A gradient whose `need_*`
// flag is 0 is not computed and its out-pointer is left null. Returns 0, or 1 with `*error`
// set to a malloc'ed message (the caller frees it).
extern "C" int hnas_convolution_backward(
    at::Tensor *grad_output, at::Tensor *input, at::Tensor *weight, int64_t bias_size,
    const int64_t *stride, const int64_t *padding, const int64_t *dilation, int dims,
    int64_t groups, int need_input, int need_weight, at::Tensor **grad_input,
    at::Tensor **grad_weight, at::Tensor **grad_bias, char **error) {
  try {
    *grad_input = nullptr;
    *grad_weight = nullptr;
    *grad_bias = nullptr;
    std::array<int64_t, 3> zeros = {0, 0, 0};
    std::array<int64_t, 1> bias_sizes = {bias_size};
    at::OptionalIntArrayRef bias_arg = c10::nullopt;
    if (bias_size > 0) {
      bias_arg = at::IntArrayRef(bias_sizes.data(), 1);
    }
    std::array<bool, 3> mask = {need_input != 0, need_weight != 0, bias_size > 0};
    auto grads = at::convolution_backward(
        *grad_output, *input, *weight, bias_arg, at::IntArrayRef(stride, dims),
        at::IntArrayRef(padding, dims), at::IntArrayRef(dilation, dims), false,
        at::IntArrayRef(zeros.data(), dims), groups, mask);
    if (mask[0]) {
      *grad_input = new at::Tensor(std::get<0>(grads));
    }
    if (mask[1]) {
      *grad_weight = new at::Tensor(std::get<1>(grads));
    }
    if (mask[2]) {
      *grad_bias = new at::Tensor(std::get<2>(grads));
    }
    return 0;
  } catch (const std::exception &e) {
    *error = copy_message(e.what());
    return 1;
  }
}
