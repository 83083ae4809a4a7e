// llava::adamw_step_(param, grad, exp_avg, exp_avg_sq, ...): one AdamW update of one parameter in a single pass
// over its four arrays, the same formula as torch.optim.AdamW's single-tensor path (src/nn/adamw.ts names each
// step). That path is eight ATen operators, each a pass over memory (about 80 bytes a parameter); this reads and
// writes 28, which at a 100M-parameter stage 2 is a tenth of the step. Contiguous fp32/fp64 CPU tensors take the
// loop; anything else (CUDA, other dtypes, strided views) runs the operators here.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/library.h>

#include <cmath>

#include "isa.h"

namespace llava {
namespace {

struct Scalars {
  double decay;         // 1 − lr·weight_decay
  double avg_weight;    // 1 − β1 (lerp of exp_avg toward grad)
  double beta2;         // β2
  double sq_weight;     // 1 − β2
  double bias2_sqrt;    // √(1 − β2^step)
  double eps;           // ε
  double step_size;     // −lr / (1 − β1^step)
};

template <typename scalar_t>
struct Update {
  template <int W>
  static inline __attribute__((always_inline)) void run(scalar_t* __restrict p, const scalar_t* __restrict g,
                                                        scalar_t* __restrict m, scalar_t* __restrict v,
                                                        const Scalars& s, int64_t n) {
    const scalar_t decay = s.decay, avg_weight = s.avg_weight, beta2 = s.beta2, sq_weight = s.sq_weight,
                   bias2_sqrt = s.bias2_sqrt, eps = s.eps, step_size = s.step_size;
    for (int64_t i = 0; i < n; ++i) {
      const scalar_t grad = g[i];
      const scalar_t avg = m[i] + avg_weight * (grad - m[i]);  // lerp_, weight < 0.5
      const scalar_t sq = v[i] * beta2 + sq_weight * grad * grad;  // mul_, addcmul_
      const scalar_t denom = std::sqrt(sq) / bias2_sqrt + eps;
      p[i] = p[i] * decay + step_size * (avg / denom);  // mul_ (decoupled decay), addcdiv_
      m[i] = avg;
      v[i] = sq;
    }
  }
};

bool fits(const at::Tensor& t, const at::Tensor& param) {
  return t.device().is_cpu() && t.is_contiguous() && t.scalar_type() == param.scalar_type() &&
         t.numel() == param.numel();
}

// The same update in ATen operators, as torch.optim.AdamW's single-tensor path writes it.
void adamw_ops(at::Tensor& param, const at::Tensor& grad, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
               const Scalars& s) {
  param.mul_(s.decay);
  exp_avg.lerp_(grad, s.avg_weight);
  exp_avg_sq.mul_(s.beta2).addcmul_(grad, grad, s.sq_weight);
  param.addcdiv_(exp_avg, exp_avg_sq.sqrt().div_(s.bias2_sqrt).add_(s.eps), s.step_size);
}

void adamw_step_(at::Tensor param, const at::Tensor& grad, at::Tensor exp_avg, at::Tensor exp_avg_sq, double lr,
                 double beta1, double beta2, double weight_decay, double eps, int64_t step) {
  TORCH_CHECK(step >= 1, "llava::adamw_step_: step counts from 1, got ", step);
  TORCH_CHECK(grad.sizes() == param.sizes() && exp_avg.sizes() == param.sizes() && exp_avg_sq.sizes() == param.sizes(),
              "llava::adamw_step_: parameter ", param.sizes(), ", gradient ", grad.sizes(), " and moments ",
              exp_avg.sizes(), ", ", exp_avg_sq.sizes(), " differ in shape");
  at::NoGradGuard no_grad;
  const Scalars s{1 - lr * weight_decay,
                  1 - beta1,
                  beta2,
                  1 - beta2,
                  std::sqrt(1 - std::pow(beta2, static_cast<double>(step))),
                  eps,
                  -lr / (1 - std::pow(beta1, static_cast<double>(step)))};
  const auto type = param.scalar_type();
  if ((type != at::kFloat && type != at::kDouble) || !fits(param, param) || !fits(grad, param) ||
      !fits(exp_avg, param) || !fits(exp_avg_sq, param))
    return adamw_ops(param, grad, exp_avg, exp_avg_sq, s);
  AT_DISPATCH_FLOATING_TYPES(type, "llava::adamw_step_", [&] {
    scalar_t *p = param.data_ptr<scalar_t>(), *m = exp_avg.data_ptr<scalar_t>(), *v = exp_avg_sq.data_ptr<scalar_t>();
    const scalar_t* g = grad.data_ptr<scalar_t>();
    at::parallel_for(0, param.numel(), 1 << 14, [&](int64_t i0, int64_t i1) {
      run_for_cpu<Update<scalar_t>>(p + i0, g + i0, m + i0, v + i0, s, i1 - i0);
    });
  });
  // Written through pointers: bump the version counters as in-place operators do, so autograd still sees it.
  for (const at::Tensor* t : {&param, &exp_avg, &exp_avg_sq}) torch::autograd::impl::bump_version(*t);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(llava, m) {
  m.def("adamw_step_(Tensor(a!) param, Tensor grad, Tensor(b!) exp_avg, Tensor(c!) exp_avg_sq, float lr, "
        "float beta1, float beta2, float weight_decay, float eps, int step) -> ()",
        &adamw_step_);
}

}  // namespace llava
