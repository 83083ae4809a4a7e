// llava::rms_norm(input, weight, eps) -> [..., D]: LlamaRMSNorm, weight · (x · rsqrt(mean(x², -1) + eps)) with the
// normalization in float32. A float32 input on the CPU takes one pass forward and one backward of our own, saving
// only the input (alive anyway: it is the residual stream) and one inverse RMS per row; transformers' operators
// save the normalized copy [..., D] and walk memory about six times each way. Other dtypes (bf16/fp16 rounded as
// transformers rounds them, float64 normalized in float32 as there) and devices run those operators.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include <cmath>

#include "isa.h"
#include "kernels.h"

namespace llava {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per task. The weight's gradient is summed per block of rows and then over blocks in order, so a fixed block
// makes it independent of the thread count.
constexpr int64_t kRowBlock = 32;

at::Tensor rms_norm_ops(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normed = x32.mul(x32.pow(2).mean(-1, /*keepdim=*/true).add(eps).rsqrt());
  return weight.mul(normed.to(x.scalar_type()));
}

// Σ_j a[j]·b[j] over W lanes, then the lanes in order.
template <int W>
inline __attribute__((always_inline)) float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float lanes[W] = {};
  int64_t j = 0;
  for (; j + W <= n; j += W)
    for (int l = 0; l < W; ++l) lanes[l] += a[j + l] * b[j + l];
  float sum = 0;
  for (int l = 0; l < W; ++l) sum += lanes[l];
  for (; j < n; ++j) sum += a[j] * b[j];
  return sum;
}

// y[r] = w · (x[r] · inv[r]), inv[r] = 1 / √(mean(x[r]²) + eps), for `rows` rows of D.
struct Forward {
  template <int W>
  static inline __attribute__((always_inline)) void run(const float* __restrict x, const float* __restrict w,
                                                        float* __restrict y, float* __restrict inv, int64_t rows,
                                                        int64_t D, float eps) {
    for (int64_t r = 0; r < rows; ++r, x += D, y += D) {
      const float inv_rms = 1 / std::sqrt(dot<W>(x, x, D) / static_cast<float>(D) + eps);
      inv[r] = inv_rms;
      for (int64_t j = 0; j < D; ++j) y[j] = w[j] * (x[j] * inv_rms);
    }
  }
};

// With g = dy · w and s = inv: dx = s·g − x · s³ · (g·x) / D; dw (summed into w_grad) += dy · x · s.
struct Backward {
  template <int W>
  static inline __attribute__((always_inline)) void run(const float* __restrict x, const float* __restrict w,
                                                        const float* __restrict inv, const float* __restrict dy,
                                                        float* __restrict dx, float* __restrict w_grad,
                                                        int64_t rows, int64_t D) {
    for (int64_t r = 0; r < rows; ++r, x += D, dy += D) {
      const float s = inv[r];
      if (dx) {
        float lanes[W] = {};
        int64_t j = 0;
        for (; j + W <= D; j += W)
          for (int l = 0; l < W; ++l) lanes[l] += dy[j + l] * w[j + l] * x[j + l];
        float gx = 0;
        for (int l = 0; l < W; ++l) gx += lanes[l];
        for (; j < D; ++j) gx += dy[j] * w[j] * x[j];
        const float c = gx * s * s * s / static_cast<float>(D);
        for (j = 0; j < D; ++j) dx[j] = s * (dy[j] * w[j]) - x[j] * c;
        dx += D;
      }
      if (w_grad)
        for (int64_t j = 0; j < D; ++j) w_grad[j] += dy[j] * (x[j] * s);
    }
  }
};

struct RmsNorm : torch::autograd::Function<RmsNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight, double eps) {
    at::NoGradGuard no_grad;
    const at::Tensor x = input.contiguous(), w = weight.contiguous();
    const int64_t D = x.size(-1), rows = x.numel() / D;
    at::Tensor y = at::empty_like(x);
    at::Tensor inv = at::empty({rows}, x.options());
    const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>();
    float *yp = y.data_ptr<float>(), *ip = inv.data_ptr<float>();
    at::parallel_for(0, (rows + kRowBlock - 1) / kRowBlock, 1, [&](int64_t b0, int64_t b1) {
      const int64_t r0 = b0 * kRowBlock, r1 = std::min(rows, b1 * kRowBlock);
      run_for_cpu<Forward>(xp + r0 * D, wp, yp + r0 * D, ip + r0, r1 - r0, D, static_cast<float>(eps));
    });
    ctx->save_for_backward({x, w, inv});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    at::NoGradGuard no_grad;
    const at::Tensor &x = saved[0], &w = saved[1], &inv = saved[2];
    const at::Tensor dy = grads[0].contiguous();
    const int64_t D = x.size(-1), rows = x.numel() / D, blocks = (rows + kRowBlock - 1) / kRowBlock;
    const bool want_x = ctx->needs_input_grad(0), want_w = ctx->needs_input_grad(1);
    at::Tensor dx = want_x ? at::empty_like(x) : at::Tensor();
    at::Tensor partial = want_w ? at::zeros({blocks, D}, x.options()) : at::Tensor();  // [blocks, D]
    at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t r0 = b * kRowBlock, n = std::min(rows, r0 + kRowBlock) - r0;
        run_for_cpu<Backward>(x.data_ptr<float>() + r0 * D, w.data_ptr<float>(), inv.data_ptr<float>() + r0,
                              dy.data_ptr<float>() + r0 * D, want_x ? dx.data_ptr<float>() + r0 * D : nullptr,
                              want_w ? partial.data_ptr<float>() + b * D : nullptr, n, D);
      }
    });
    return {dx, want_w ? partial.sum(0) : at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const bool ours = x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat && x.device().is_cpu() &&
                    weight.device().is_cpu() && weight.dim() == 1 && x.dim() >= 1 && x.numel() > 0 &&
                    x.size(-1) == weight.size(0);
  return ours ? RmsNorm::apply(x, weight, eps) : rms_norm_ops(x, weight, eps);
}

TORCH_LIBRARY_FRAGMENT(llava, m) {
  m.def("rms_norm(Tensor input, Tensor weight, float eps) -> Tensor", &rms_norm);
}

}  // namespace llava
