// llava::apply_rotary(x [B, H, T, d], cos, sin [B|1, T, d]) -> [B, H, T, d]: rotary position embedding as
// transformers' apply_rotary_pos_emb, x·cos + rotate_half(x)·sin with rotate_half(x) = cat(-x[..., d/2:],
// x[..., :d/2]). For fp32/fp64 on the CPU with position tables that take no gradient (the rotary embedding's) it
// is one pass each way of our own, reading x through its strides (q and k arrive as transposed views of the
// projections); elsewhere the operators. The backward is the transpose of the rotation:
//   dx[i] = dy[i]·cos[i] + dy[i + d/2]·sin[i + d/2],   dx[i + d/2] = dy[i + d/2]·cos[i + d/2] − dy[i]·sin[i]  (i < d/2).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include "isa.h"
#include "kernels.h"

namespace llava {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

at::Tensor apply_rotary_ops(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = at::cat({x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)}, -1);
  return x.mul(cos.unsqueeze(1)).add(rotated.mul(sin.unsqueeze(1)));
}

// `rows` rows of d: row r of x at x + r·x_row, of cos/sin at + r·table_row, of y at y + r·d. The forward rotates
// (y = x·cos + rotate_half(x)·sin); the backward applies the transpose (the file's header), x then being dy.
template <typename scalar_t>
struct Rotate {
  template <int W>
  static inline __attribute__((always_inline)) void run(const scalar_t* x, int64_t x_row, const scalar_t* cos,
                                                        const scalar_t* sin, int64_t table_row, scalar_t* y,
                                                        int64_t rows, int64_t d, bool backward) {
    const int64_t half = d / 2;
    for (int64_t r = 0; r < rows; ++r, x += x_row, cos += table_row, sin += table_row, y += d) {
      const scalar_t *__restrict lo = x, *__restrict hi = x + half;
      scalar_t *__restrict y_lo = y, *__restrict y_hi = y + half;
      if (!backward) {
        for (int64_t i = 0; i < half; ++i) {
          y_lo[i] = lo[i] * cos[i] + (-hi[i]) * sin[i];
          y_hi[i] = hi[i] * cos[half + i] + lo[i] * sin[half + i];
        }
      } else {
        for (int64_t i = 0; i < half; ++i) {
          y_lo[i] = lo[i] * cos[i] + hi[i] * sin[half + i];
          y_hi[i] = hi[i] * cos[half + i] - lo[i] * sin[i];
        }
      }
    }
  }
};

// x [B, H, T, d] with unit stride over d; cos/sin expanded to [B, T, d]; y [B, H, T, d] contiguous.
void rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, at::Tensor& y, bool backward) {
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), d = x.size(3);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "llava::apply_rotary", [&] {
    // Tasks are (b, h) pairs: T rows each, position tables walked in step.
    at::parallel_for(0, B * H, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t b = p / H, h = p % H;
        run_for_cpu<Rotate<scalar_t>>(x.data_ptr<scalar_t>() + b * x.stride(0) + h * x.stride(1), x.stride(2),
                                      cos.data_ptr<scalar_t>() + b * cos.stride(0),
                                      sin.data_ptr<scalar_t>() + b * sin.stride(0), cos.stride(1),
                                      y.data_ptr<scalar_t>() + p * T * d, T, d, backward);
      }
    });
  });
}

struct Rotary : torch::autograd::Function<Rotary> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    at::NoGradGuard no_grad;
    const std::vector<int64_t> table{x.size(0), x.size(2), x.size(3)};
    const at::Tensor c = cos.expand(table), s = sin.expand(table);
    at::Tensor y = at::empty(x.sizes(), x.options());
    rotate(x, c, s, y, /*backward=*/false);
    ctx->save_for_backward({c, s});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    at::NoGradGuard no_grad;
    const at::Tensor dy = grads[0].contiguous();
    at::Tensor dx = at::empty(dy.sizes(), dy.options());
    rotate(dy, saved[0], saved[1], dx, /*backward=*/true);
    return {dx, at::Tensor(), at::Tensor()};
  }
};

bool takes_ours(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const auto type = x.scalar_type();
  if ((type != at::kFloat && type != at::kDouble) || cos.scalar_type() != type || sin.scalar_type() != type) return false;
  if (!x.device().is_cpu() || !cos.device().is_cpu() || !sin.device().is_cpu()) return false;
  if (cos.requires_grad() || sin.requires_grad()) return false;
  if (x.dim() != 4 || cos.dim() != 3 || sin.dim() != 3 || x.size(3) % 2 != 0 || x.numel() == 0) return false;
  for (const at::Tensor* t : {&cos, &sin})
    if ((t->size(0) != 1 && t->size(0) != x.size(0)) || t->size(1) != x.size(2) || t->size(2) != x.size(3) ||
        t->stride(2) != 1)
      return false;
  return x.stride(3) == 1;
}

}  // namespace

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return takes_ours(x, cos, sin) ? Rotary::apply(x, cos, sin) : apply_rotary_ops(x, cos, sin);
}

TORCH_LIBRARY_FRAGMENT(llava, m) {
  m.def("apply_rotary(Tensor input, Tensor cos, Tensor sin) -> Tensor", &apply_rotary);
}

}  // namespace llava
