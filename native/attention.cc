// llava::attention(query, key, value, mask?) -> [B, H, T, d]: transformers' eager LLaMA attention in one call,
//   softmax(query · keyᵀ / sqrt(d) + mask, in float32) · value,
// with grouped-query heads (query head h reads key/value head h / (H / H_kv)). Under autograd or for a prompt
// (more than kDecodeRows queries), in fp32/fp64, it is the blocked kernel of native/attention_train.cc (its own
// backward; causal blocks skipped); in other dtypes, or where that kernel declines, that formula in ATen
// operators, op for op transformers'. A decode step without autograd runs a loop of our own over the cache's
// views: for a few queries the batched matmuls cost more in setup than in arithmetic.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <vector>

#include "attention_train.h"
#include "isa.h"
#include "kernels.h"

namespace llava {
namespace {

constexpr int64_t kDecodeRows = 8;

// [B, h, S, d] -> [B, h·n, S, d]: each key/value head read by n query heads.
at::Tensor repeat_kv(const at::Tensor& x, int64_t n) {
  if (n == 1) return x;
  const int64_t B = x.size(0), h = x.size(1), S = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({B, h, n, S, d}).reshape({B, h * n, S, d});
}

// The formula in ATen operators: what autograd records, and the reference for the loop below.
at::Tensor attention_ops(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const c10::optional<at::Tensor>& mask) {
  const int64_t n = q.size(1) / k.size(1);
  // Scale and mask in place (matmul saves its inputs, not its output, so autograd allows it).
  at::Tensor scores = q.matmul(repeat_kv(k, n).transpose(2, 3)).div_(std::sqrt(static_cast<double>(q.size(3))));
  if (mask && mask->defined()) scores.add_(*mask);
  return scores.to(at::kFloat).softmax(-1).to(q.scalar_type()).matmul(repeat_kv(v, n));
}

// Rounds a float as the operator path would store it in scalar_t (bf16 and fp16 round at every stored step).
template <typename scalar_t>
inline float stored(float x) {
  return static_cast<float>(static_cast<scalar_t>(x));
}

// One query row against S positions of its key/value head: out [d] = softmax(q·kᵀ/√d + mask) · v.
// k is read through its strides (the cache stores keys transposed, so position is the unit stride there);
// v rows are contiguous. `scores` [S] and `acc` [d] are scratch.
template <typename scalar_t>
inline __attribute__((always_inline)) void attend_row(const scalar_t* q, const scalar_t* k, int64_t k_pos, int64_t k_dim, const scalar_t* v, int64_t v_pos,
                const scalar_t* mask, int64_t mask_pos, int64_t S, int64_t d, float* __restrict scores,
                float* __restrict acc, scalar_t* out) {
  const float root = std::sqrt(static_cast<float>(d));
  for (int64_t s = 0; s < S; ++s) scores[s] = 0;
  if (k_pos == 1) {  // keys transposed [d, S]: scores += q[i] · kT[i, :], unit stride over positions
    for (int64_t i = 0; i < d; ++i) {
      const float qi = static_cast<float>(q[i]);
      const scalar_t* row = k + i * k_dim;
      for (int64_t s = 0; s < S; ++s) scores[s] += qi * static_cast<float>(row[s]);
    }
  } else {  // keys [S, d] with unit stride over d: one dot product per position
    for (int64_t s = 0; s < S; ++s) {
      const scalar_t* row = k + s * k_pos;
      float acc = 0;
      for (int64_t i = 0; i < d; ++i) acc += static_cast<float>(q[i]) * static_cast<float>(row[i * k_dim]);
      scores[s] = acc;
    }
  }
  float top = -INFINITY;
  for (int64_t s = 0; s < S; ++s) {
    float x = stored<scalar_t>(stored<scalar_t>(scores[s]) / root);
    if (mask) x = stored<scalar_t>(x + static_cast<float>(mask[s * mask_pos]));
    scores[s] = x;
    top = std::max(top, x);
  }
  float total = 0;
  for (int64_t s = 0; s < S; ++s) total += (scores[s] = std::exp(scores[s] - top));
  for (int64_t i = 0; i < d; ++i) acc[i] = 0;
  for (int64_t s = 0; s < S; ++s) {
    const float p = stored<scalar_t>(scores[s] / total);
    const scalar_t* row = v + s * v_pos;
    for (int64_t i = 0; i < d; ++i) acc[i] += p * static_cast<float>(row[i]);
  }
  for (int64_t i = 0; i < d; ++i) out[i] = static_cast<scalar_t>(acc[i]);
}

bool decodes(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const c10::optional<at::Tensor>& mask) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || q.size(2) > kDecodeRows) return false;
  if (!q.device().is_cpu() || !k.device().is_cpu() || !v.device().is_cpu()) return false;
  if (k.scalar_type() != q.scalar_type() || v.scalar_type() != q.scalar_type()) return false;
  if (k.stride(2) != 1 && k.stride(3) != 1) return false;
  if (q.stride(3) != 1 || v.stride(3) != 1) return false;
  const bool has_mask = mask && mask->defined();
  if (has_mask && (mask->dim() != 4 || mask->scalar_type() != q.scalar_type() || !mask->device().is_cpu()))
    return false;
  const auto requires_grad = [](const at::Tensor& t) { return t.requires_grad(); };
  return !(at::GradMode::is_enabled() &&
           (requires_grad(q) || requires_grad(k) || requires_grad(v) || (has_mask && requires_grad(*mask))));
}

// One call's pointers and strides (elements), read by every row. A broadcast mask ([B or 1, 1, T or 1, S]) has
// stride 0 on its size-1 dimensions.
template <typename scalar_t>
struct Views {
  const scalar_t *q, *k, *v, *mask;
  scalar_t* out;
  int64_t H, T, d, S, group;
  int64_t qb, qh, qt, kb, kh, k_pos, k_dim, vb, vh, v_pos, mb, mh, mt, ms;
};

// Rows [r0, r1) of the B·H·T query rows, compiled per instruction set (isa.h) so that the loops over positions
// and head dimensions vectorize for the CPU at hand. `scratch` holds S + d floats.
struct AttendRows {
  template <int W, typename scalar_t>
  static inline __attribute__((always_inline)) void run(const Views<scalar_t>& a, int64_t r0, int64_t r1,
                                                        float* scratch) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / (a.H * a.T), h = (r / a.T) % a.H, t = r % a.T, kv = h / a.group;
      const scalar_t* mask = a.mask ? a.mask + b * a.mb + h * a.mh + t * a.mt : nullptr;
      attend_row<scalar_t>(a.q + b * a.qb + h * a.qh + t * a.qt, a.k + b * a.kb + kv * a.kh, a.k_pos, a.k_dim,
                           a.v + b * a.vb + kv * a.vh, a.v_pos, mask, a.ms, a.S, a.d, scratch, scratch + a.S,
                           a.out + ((b * a.H + h) * a.T + t) * a.d);
    }
  }
};

template <typename scalar_t>
void attention_loop(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor* mask,
                    at::Tensor& out) {
  const auto mask_stride = [&](int64_t dim) { return mask && mask->size(dim) > 1 ? mask->stride(dim) : 0; };
  const Views<scalar_t> views{q.data_ptr<scalar_t>(),
                              k.data_ptr<scalar_t>(),
                              v.data_ptr<scalar_t>(),
                              mask ? mask->data_ptr<scalar_t>() : nullptr,
                              out.data_ptr<scalar_t>(),
                              q.size(1),
                              q.size(2),
                              q.size(3),
                              k.size(2),
                              q.size(1) / k.size(1),
                              q.stride(0),
                              q.stride(1),
                              q.stride(2),
                              k.stride(0),
                              k.stride(1),
                              k.stride(2),
                              k.stride(3),
                              v.stride(0),
                              v.stride(1),
                              v.stride(2),
                              mask_stride(0),
                              mask_stride(1),
                              mask_stride(2),
                              mask ? mask->stride(3) : 0};
  const int64_t rows = q.size(0) * views.H * views.T;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, views.S * views.d));
  at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    std::vector<float> scratch(views.S + views.d);
    run_for_cpu<AttendRows>(views, r0, r1, scratch.data());
  });
}

}  // namespace

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const c10::optional<at::Tensor>& mask) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "llava::attention: query, key and value must be 4-D",
              " [B, heads, positions, head_dim], got ", q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  TORCH_CHECK(k.size(1) > 0 && q.size(1) % k.size(1) == 0, "llava::attention: ", q.size(1),
              " query heads are not a multiple of ", k.size(1), " key/value heads");
  if (takes_blocked(q, k, v, mask, kDecodeRows)) return attention_blocked(q, k, v, mask);
  if (!decodes(q, k, v, mask)) return attention_ops(q, k, v, mask);
  at::NoGradGuard no_grad;
  at::Tensor out = at::empty(q.sizes(), q.options().memory_format(at::MemoryFormat::Contiguous));
  const at::Tensor* m = mask && mask->defined() ? &*mask : nullptr;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, q.scalar_type(), "llava::attention",
                                  [&] { attention_loop<scalar_t>(q, k, v, m, out); });
  return out;
}

TORCH_LIBRARY_FRAGMENT(llava, m) {
  m.def("attention(Tensor query, Tensor key, Tensor value, Tensor? mask=None) -> Tensor", &attention);
}

}  // namespace llava
