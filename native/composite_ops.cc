// Small operators of the LLaMA decoder, each one call from JS instead of 5-8: a decode step runs each of them 16
// times per token, and every crossing of the Node-API boundary costs more than the ATen operator behind it. Each is
// the same ATen operators in the same order as the TypeScript it replaces (registered CompositeImplicitAutograd, so
// autograd records those operators and backward is libtorch's own).
#include <ATen/ATen.h>
#include <torch/library.h>

namespace llava {
namespace {

// LlamaRMSNorm: weight · (x / sqrt(mean(x², -1) + eps)), computed in float32 and cast back before the weight.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normed = x32.mul(x32.pow(2).mean(-1, /*keepdim=*/true).add(eps).rsqrt());
  return weight.mul(normed.to(x.scalar_type()));
}

// Rotary position embedding of x [B, H, T, d] with cos, sin [B, T, d]: x·cos + rotate_half(x)·sin, where
// rotate_half(x) = cat(-x[..., d/2:], x[..., :d/2]) (transformers' apply_rotary_pos_emb).
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = at::cat({x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)}, -1);
  return x.mul(cos.unsqueeze(1)).add(rotated.mul(sin.unsqueeze(1)));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(llava, m) {
  m.def("rms_norm(Tensor input, Tensor weight, float eps) -> Tensor", &rms_norm);
  m.def("apply_rotary(Tensor input, Tensor cos, Tensor sin) -> Tensor", &apply_rotary);
}

}  // namespace llava
