// The addon's operators as C++ functions, for an operator composed of them (native/decoder_layer.cc) to call
// without the dispatcher. Each is what its registered schema runs: its own kernel where that applies, else ATen.
#pragma once
#include <ATen/ATen.h>

namespace llava {

at::Tensor linear(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias);
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const c10::optional<at::Tensor>& mask);
at::Tensor silu_mul(const at::Tensor& gate, const at::Tensor& up);

}  // namespace llava
