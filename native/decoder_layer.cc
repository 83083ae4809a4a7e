// llava::decoder_layer(hidden, weights, biases, cos, sin, mask?, keys_t, values, heads, eps) -> [B, T, D]: one
// LlamaDecoderLayer forward over a KV cache, outside autograd, in one call. Around its seven products a decode step
// runs ~30 small operators per layer; called one by one from JavaScript, each pays a Node-API crossing, the
// dispatcher's boxing and a tensor handle (~2 µs). In one call a step for 8 requests on the benchmark's LLaMA
// takes ~8% less time (bench/decode.ts, with and without this path, on the 2-core Xeon), one request ~0-10%.
// Here they are the functions the registered operators run (kernels.h), called in src/models/llama.ts's order, so
// the result is bitwise the modules' (test/models/decoder-layer.test.ts). PyTorch's nn.TransformerEncoderLayer
// takes a fused native path at inference the same way.
//
// weights: the layer's checkpoint tensors in order (input_layernorm, q_proj, k_proj, v_proj, o_proj,
// post_attention_layernorm, gate_proj, up_proj, down_proj); biases: none, or q/k/v/o_proj's (attention_bias).
// keys_t [B, H_kv, d, S] and values [B, H_kv, S, d] are the cache's windows: the filled prefix and then this call's
// T positions, which are written here (src/models/kv-cache.ts).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "kernels.h"

namespace llava {
namespace {

bool records(const at::Tensor& t) { return t.defined() && t.requires_grad(); }

// keys_t[b, h, i, S - T + t] = k[b, h, t, i]: the step's keys into the transposed cache. Each element lands on its
// own cache line, so one thread's scattered stores wait on memory; split over (b, h) rows, both cores issue them.
void append_keys(const at::Tensor& keys_t, const at::Tensor& k) {
  const int64_t B = k.size(0), H = k.size(1), T = k.size(2), d = k.size(3), S = keys_t.size(3);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, k.scalar_type(), "llava::decoder_layer", [&] {
    const scalar_t* src = k.data_ptr<scalar_t>();
    scalar_t* dst = keys_t.data_ptr<scalar_t>();
    const int64_t sb = k.stride(0), sh = k.stride(1), st = k.stride(2), si = k.stride(3);
    const int64_t db = keys_t.stride(0), dh = keys_t.stride(1), di = keys_t.stride(2), ds = keys_t.stride(3);
    at::parallel_for(0, B * H, 4, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / H, h = r % H;
        for (int64_t t = 0; t < T; ++t)
          for (int64_t i = 0; i < d; ++i)
            dst[b * db + h * dh + i * di + (S - T + t) * ds] = src[b * sb + h * sh + t * st + i * si];
      }
    });
  });
}

at::Tensor decoder_layer(const at::Tensor& hidden, at::TensorList weights, at::TensorList biases,
                         const at::Tensor& cos, const at::Tensor& sin, const c10::optional<at::Tensor>& mask,
                         const at::Tensor& keys_t, const at::Tensor& values, int64_t heads, double eps) {
  TORCH_CHECK(weights.size() == 9, "llava::decoder_layer: expected the layer's 9 weights, got ", weights.size());
  TORCH_CHECK(biases.empty() || biases.size() == 4, "llava::decoder_layer: expected no attention biases or 4 ",
              "(q, k, v, o_proj), got ", biases.size());
  TORCH_CHECK(hidden.dim() == 3, "llava::decoder_layer: hidden must be [batch, positions, hidden], got ",
              hidden.sizes());
  TORCH_CHECK(keys_t.dim() == 4 && values.dim() == 4, "llava::decoder_layer: the cache windows must be 4-D, got ",
              keys_t.sizes(), " and ", values.sizes());
  const int64_t B = hidden.size(0), T = hidden.size(1);
  const int64_t kv_heads = keys_t.size(1), d = keys_t.size(2), S = keys_t.size(3);
  TORCH_CHECK(keys_t.size(0) == B && values.sizes() == at::IntArrayRef({B, kv_heads, S, d}) && S >= T,
              "llava::decoder_layer: cache windows ", keys_t.sizes(), " (keys, transposed) and ", values.sizes(),
              " do not hold ", T, " new positions for a batch of ", B);
  bool grad = records(hidden);
  for (const at::Tensor& t : weights) grad = grad || records(t);
  for (const at::Tensor& t : biases) grad = grad || records(t);
  TORCH_CHECK(!(at::GradMode::is_enabled() && grad), "llava::decoder_layer runs outside autograd: call it under ",
              "no_grad, or run the layer's modules");
  at::NoGradGuard no_grad;
  const auto bias = [&](size_t i) { return biases.empty() ? c10::optional<at::Tensor>() : biases[i]; };
  const auto split = [&](const at::Tensor& t, int64_t h) { return t.view({B, T, h, d}).transpose(1, 2); };

  // self_attn(input_layernorm(hidden)); q [B, H, T, d], k and v [B, H_kv, T, d]
  const at::Tensor normed = llava::rms_norm(hidden, weights[0], eps);
  const at::Tensor q = llava::apply_rotary(split(llava::linear(normed, weights[1], bias(0)), heads), cos, sin);
  const at::Tensor k = llava::apply_rotary(split(llava::linear(normed, weights[2], bias(1)), kv_heads), cos, sin);
  const at::Tensor v = split(llava::linear(normed, weights[3], bias(2)), kv_heads);
  if (T <= 8 && k.scalar_type() == keys_t.scalar_type())
    append_keys(keys_t, k);
  else
    keys_t.narrow(3, S - T, T).copy_(k.transpose(2, 3));
  values.narrow(2, S - T, T).copy_(v);
  const at::Tensor attended =
      llava::attention(q, keys_t.transpose(2, 3), values, mask).transpose(1, 2).reshape({B, T, heads * d});
  const at::Tensor h = hidden.add(llava::linear(attended, weights[4], bias(3)));  // [B, T, D]

  // mlp(post_attention_layernorm(h)) = down(silu(gate(x)) · up(x))
  const at::Tensor x = llava::rms_norm(h, weights[5], eps);
  const at::Tensor up = llava::silu_mul(llava::linear(x, weights[6], {}), llava::linear(x, weights[7], {}));
  return h.add(llava::linear(up, weights[8], {}));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(llava, m) {
  m.def(
      "decoder_layer(Tensor hidden, Tensor[] weights, Tensor[] biases, Tensor cos, Tensor sin, Tensor? mask, "
      "Tensor keys_t, Tensor values, int heads, float eps) -> Tensor",
      &decoder_layer);
}

}  // namespace llava
