// llava::silu_mul(gate, up) -> silu(gate) · up: LlamaMLP's act_fn(gate_proj(x)) * up_proj(x), the SwiGLU gate.
// For fp32/fp64 on the CPU (same shapes, contiguous) one pass each way of our own that saves gate and up and
// recomputes the sigmoid in backward; the operators (silu, then mul) also keep silu(gate) [B, T, I], the largest
// activation of a LLaMA layer, and pass over memory about twice as often. Elsewhere the operators.
//   y = g·σ(g)·u,   du = dy·g·σ(g),   dg = dy·u·σ(g)·(1 + g·(1 − σ(g)))   (σ(g) = 1 / (1 + e^−g), as aten::silu)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "isa.h"
#include "kernels.h"

namespace llava {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// e^x in float32 within 2 ulp (Cephes' expf: x = n·ln2 + r, |r| ≤ ln2/2, a degree-7 polynomial for e^r, 2^n put into
// the exponent bits) written so that the compiler vectorizes it: the C library's expf is a call per element.
// Inputs are clamped to where 2^n stays a normal float (e^x beyond them is ~0 or ~3e38 here instead of 0 or
// inf, which σ then turns into 0 and 1 all the same).
inline __attribute__((always_inline)) float exp_vectorizable(float x) {
  x = x < -87.33654f ? -87.33654f : x;  // comparisons, not fmin/fmax: those keep NaN rules that do not vectorize
  x = x > 88.37626f ? 88.37626f : x;
  // n = round(x / ln2): adding and taking away 1.5·2^23 rounds to an integer (floor is a call that stops vectors).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline __attribute__((always_inline)) float sigmoid(float g) { return 1.0f / (1.0f + exp_vectorizable(-g)); }
inline __attribute__((always_inline)) double sigmoid(double g) { return 1.0 / (1.0 + std::exp(-g)); }

template <typename scalar_t>
struct Forward {
  template <int W>
  static inline __attribute__((always_inline)) void run(const scalar_t* __restrict g, const scalar_t* __restrict u,
                                                        scalar_t* __restrict y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = g[i] * sigmoid(g[i]) * u[i];
  }
};

template <typename scalar_t>
struct Backward {
  template <int W>
  static inline __attribute__((always_inline)) void run(const scalar_t* __restrict g, const scalar_t* __restrict u,
                                                        const scalar_t* __restrict dy, scalar_t* __restrict dg,
                                                        scalar_t* __restrict du, int64_t n) {
    if (du)  // separate loops: a branch inside would keep the compiler from vectorizing
      for (int64_t i = 0; i < n; ++i) du[i] = dy[i] * (g[i] * sigmoid(g[i]));
    if (dg)
      for (int64_t i = 0; i < n; ++i) {
        const scalar_t s = sigmoid(g[i]);
        dg[i] = dy[i] * u[i] * s * (1 + g[i] * (1 - s));
      }
  }
};

constexpr int64_t kGrain = 1 << 14;

struct SiluMul : torch::autograd::Function<SiluMul> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up) {
    at::NoGradGuard no_grad;
    at::Tensor y = at::empty_like(gate);
    AT_DISPATCH_FLOATING_TYPES(gate.scalar_type(), "llava::silu_mul", [&] {
      const scalar_t *g = gate.data_ptr<scalar_t>(), *u = up.data_ptr<scalar_t>();
      scalar_t* out = y.data_ptr<scalar_t>();
      at::parallel_for(0, gate.numel(), kGrain, [&](int64_t i0, int64_t i1) {
        run_for_cpu<Forward<scalar_t>>(g + i0, u + i0, out + i0, i1 - i0);
      });
    });
    ctx->save_for_backward({gate, up});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    at::NoGradGuard no_grad;
    const at::Tensor &gate = saved[0], &up = saved[1];
    const at::Tensor dy = grads[0].contiguous();
    const bool want_gate = ctx->needs_input_grad(0), want_up = ctx->needs_input_grad(1);
    at::Tensor dgate = want_gate ? at::empty_like(gate) : at::Tensor();
    at::Tensor dup = want_up ? at::empty_like(up) : at::Tensor();
    AT_DISPATCH_FLOATING_TYPES(gate.scalar_type(), "llava::silu_mul backward", [&] {
      const scalar_t *g = gate.data_ptr<scalar_t>(), *u = up.data_ptr<scalar_t>(), *d = dy.data_ptr<scalar_t>();
      scalar_t* dg = want_gate ? dgate.data_ptr<scalar_t>() : nullptr;
      scalar_t* du = want_up ? dup.data_ptr<scalar_t>() : nullptr;
      at::parallel_for(0, gate.numel(), kGrain, [&](int64_t i0, int64_t i1) {
        run_for_cpu<Backward<scalar_t>>(g + i0, u + i0, d + i0, dg ? dg + i0 : nullptr, du ? du + i0 : nullptr,
                                        i1 - i0);
      });
    });
    return {dgate, dup};
  }
};

}  // namespace

at::Tensor silu_mul(const at::Tensor& gate, const at::Tensor& up) {
  const auto type = gate.scalar_type();
  const bool ours = (type == at::kFloat || type == at::kDouble) && up.scalar_type() == type &&
                    gate.device().is_cpu() && up.device().is_cpu() && gate.sizes() == up.sizes() &&
                    gate.is_contiguous() && up.is_contiguous();
  return ours ? SiluMul::apply(gate, up) : at::silu(gate).mul(up);
}

TORCH_LIBRARY_FRAGMENT(llava, m) {
  m.def("silu_mul(Tensor gate, Tensor up) -> Tensor", &silu_mul);
}

}  // namespace llava
