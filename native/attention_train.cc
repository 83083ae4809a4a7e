// llava::attention for training and for prompts (a prefill, the vision tower): softmax(q·kᵀ/√d + mask)·v computed
// a block of query rows at a time, with its own backward (the flash-attention recurrences), instead of the eager
// formula's batched matmuls and [B, H, T, S] score tensors.
//   - Key columns that the mask blocks for every row of a block (the causal mask's upper triangle) are skipped:
//     in the eager formula they hold mask's lowest value, whose softmax weight is exactly 0, so skipping them
//     changes nothing but the order of sums, and halves the attention work of a causal decoder.
//   - Only each row's max and softmax denominator [B, H, T] are saved; backward recomputes a block's
//     probabilities from them, so a layer keeps q, k, v and the output instead of the [B, H, T, S]
//     probabilities (26 MB a layer at B2 × 640).
//   - Work is split by (batch, key/value head): each task owns its dK and dV rows, so sums run in one fixed order
//     and the results are the same in every run (exact resume relies on it).
// Rows that the mask blocks entirely keep every column, giving the eager formula's uniform weights.
#include "attention_train.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace llava {
namespace {

constexpr int64_t kRowBlock = 64;

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// For each mask batch and block of query rows: how many leading key columns some row of the block can see.
// Columns past it are blocked (at the dtype's lowest value or -inf) in every row of the block. [Bm, blocks]
template <typename scalar_t>
std::vector<int64_t> visible_columns(const at::Tensor& mask, int64_t T, int64_t S) {
  const int64_t blocks = (T + kRowBlock - 1) / kRowBlock;
  if (!mask.defined()) return std::vector<int64_t>(blocks, S);
  const at::Tensor m = mask.expand({mask.size(0), 1, T, S}).contiguous();
  const scalar_t* data = m.data_ptr<scalar_t>();
  const scalar_t blocked = std::numeric_limits<scalar_t>::lowest();
  std::vector<int64_t> visible(m.size(0) * blocks, 0);
  for (int64_t b = 0; b < m.size(0); ++b)
    for (int64_t t = 0; t < T; ++t) {
      const scalar_t* row = data + (b * T + t) * S;
      int64_t last = S - 1;
      while (last >= 0 && !(row[last] > blocked)) --last;
      const int64_t seen = last < 0 ? S : last + 1;  // a row blocked entirely keeps every column
      int64_t& block = visible[b * blocks + t / kRowBlock];
      block = std::max(block, seen);
    }
  return visible;
}

struct Problem {
  at::Tensor q, k, v, mask;  // q [B, H, T, d], k and v [B, Hkv, S, d] contiguous; mask [Bm, 1, T, S] or undefined
  int64_t B, H, Hkv, T, S, d, group, blocks;
  double scale;
  std::vector<int64_t> visible;  // [Bm, blocks]

  Problem(const at::Tensor& q_, const at::Tensor& k_, const at::Tensor& v_, const at::Tensor& mask_)
      : q(q_.contiguous()), k(k_.contiguous()), v(v_.contiguous()), mask(mask_) {
    B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3), Hkv = k.size(1), S = k.size(2);
    group = H / Hkv, blocks = (T + kRowBlock - 1) / kRowBlock;
    scale = 1.0 / std::sqrt(static_cast<double>(d));
    if (mask.defined()) mask = mask.expand({mask.size(0), 1, T, S});
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "llava::attention (train)",
                               [&] { visible = visible_columns<scalar_t>(mask, T, S); });
  }

  // Rows [r0, r0 + n) of block `blk` for batch b: the scaled, masked scores [n, kend] against the first kend keys.
  at::Tensor scores(const at::Tensor& q_rows, const at::Tensor& k_head, int64_t b, int64_t r0, int64_t n,
                    int64_t kend) const {
    at::Tensor s = at::mm(q_rows, k_head.narrow(0, 0, kend).t()).mul_(scale);
    if (mask.defined()) s.add_(mask[mask.size(0) == 1 ? 0 : b][0].narrow(0, r0, n).narrow(1, 0, kend));
    return s;
  }
  int64_t kend(int64_t b, int64_t blk) const {
    return visible[(mask.defined() && mask.size(0) > 1 ? b : 0) * blocks + blk];
  }

  // Runs fn(b, h, g, r0, n, blk) for every block of every query head, tasks split by (batch, key/value head).
  template <typename Fn>
  void for_blocks(Fn fn) const {
    at::parallel_for(0, B * Hkv, 1, [&](int64_t t0, int64_t t1) {
      at::NoGradGuard no_grad;  // grad mode is per thread, and OpenMP's threads do not inherit it
      for (int64_t task = t0; task < t1; ++task) {
        const int64_t b = task / Hkv, g = task % Hkv;
        for (int64_t h = g * group; h < (g + 1) * group; ++h)
          for (int64_t blk = 0; blk < blocks; ++blk) {
            const int64_t r0 = blk * kRowBlock;
            fn(b, h, g, r0, std::min(kRowBlock, T - r0), blk);
          }
      }
    });
  }
};

struct BlockedAttention : torch::autograd::Function<BlockedAttention> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const c10::optional<at::Tensor>& mask) {
    at::NoGradGuard no_grad;  // the blocks' operators are this function's inside, not nodes of the graph
    const Problem p(q, k, v, mask ? *mask : at::Tensor());
    at::Tensor out = at::empty({p.B, p.H, p.T, p.d}, p.q.options());
    // Each row's max and 1 / Σ exp(score − max), kept apart: folded into one log-sum-exp, a fully masked row
    // (scores at the dtype's lowest value) would lose its log Σ to rounding and its weights would not sum to 1.
    at::Tensor row_max = at::empty({p.B, p.H, p.T, 1}, p.q.options());
    at::Tensor row_inv_sum = at::empty({p.B, p.H, p.T, 1}, p.q.options());
    p.for_blocks([&](int64_t b, int64_t h, int64_t g, int64_t r0, int64_t n, int64_t blk) {
      const int64_t kend = p.kend(b, blk);
      at::Tensor s = p.scores(p.q[b][h].narrow(0, r0, n), p.k[b][g], b, r0, n, kend);  // [n, kend]
      at::Tensor top = row_max[b][h].narrow(0, r0, n), inv_sum = row_inv_sum[b][h].narrow(0, r0, n);
      at::amax_out(top, s, {1}, true);
      at::Tensor probs = s.sub_(top).exp_();
      at::sum_out(inv_sum, probs, {1}, true).reciprocal_();
      at::Tensor out_rows = out[b][h].narrow(0, r0, n);
      at::mm_out(out_rows, probs.mul_(inv_sum), p.v[b][g].narrow(0, 0, kend));
    });
    ctx->save_for_backward({p.q, p.k, p.v, out, row_max, row_inv_sum});
    if (mask) ctx->saved_data["mask"] = *mask;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    at::NoGradGuard no_grad;
    const auto mask = ctx->saved_data.find("mask");
    const at::Tensor m = mask == ctx->saved_data.end() ? at::Tensor() : mask->second.toTensor();
    const Problem p(saved[0], saved[1], saved[2], m);
    const at::Tensor &out = saved[3], &row_max = saved[4], &row_inv_sum = saved[5];
    const at::Tensor grad_out = grads[0].contiguous();         // dO [B, H, T, d]
    const at::Tensor delta = (grad_out * out).sum(-1, true);    // Σ_j dO·O per row [B, H, T, 1]
    at::Tensor dq = at::empty_like(p.q), dk = at::zeros_like(p.k), dv = at::zeros_like(p.v);
    p.for_blocks([&](int64_t b, int64_t h, int64_t g, int64_t r0, int64_t n, int64_t blk) {
      const int64_t kend = p.kend(b, blk);
      const at::Tensor q_rows = p.q[b][h].narrow(0, r0, n), go_rows = grad_out[b][h].narrow(0, r0, n);
      const at::Tensor k_seen = p.k[b][g].narrow(0, 0, kend), v_seen = p.v[b][g].narrow(0, 0, kend);
      at::Tensor probs = p.scores(q_rows, p.k[b][g], b, r0, n, kend)
                             .sub_(row_max[b][h].narrow(0, r0, n))
                             .exp_()
                             .mul_(row_inv_sum[b][h].narrow(0, r0, n));  // P [n, kend]
      at::Tensor dv_seen = dv[b][g].narrow(0, 0, kend);
      dv_seen.addmm_(probs.t(), go_rows);                       // dV += Pᵀ·dO
      at::Tensor dscores = at::mm(go_rows, v_seen.t())          // dP = dO·Vᵀ
                               .sub_(delta[b][h].narrow(0, r0, n))
                               .mul_(probs);                     // dS = P ∘ (dP − Σ dO·O)
      at::Tensor dq_rows = dq[b][h].narrow(0, r0, n);
      at::mm_out(dq_rows, dscores, k_seen).mul_(p.scale);       // dQ = dS·K / √d
      at::Tensor dk_seen = dk[b][g].narrow(0, 0, kend);
      dk_seen.addmm_(dscores.t(), q_rows, 1, p.scale);          // dK += dSᵀ·Q / √d
    });
    return {dq, dk, dv, at::Tensor()};
  }
};

}  // namespace

bool takes_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                   const c10::optional<at::Tensor>& mask, int64_t decode_rows) {
  const bool trains = at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  if (!trains && q.size(2) <= decode_rows) return false;  // a decode step: native/attention.cc's loop
  const auto type = q.scalar_type();
  if ((type != at::kFloat && type != at::kDouble) || k.scalar_type() != type || v.scalar_type() != type) return false;
  if (!q.device().is_cpu() || !k.device().is_cpu() || !v.device().is_cpu()) return false;
  if (q.dim() != 4 || k.size(2) != v.size(2) || q.size(3) != k.size(3)) return false;
  // Tasks are (batch, key/value head): fewer of them than threads would leave cores idle.
  if (q.size(0) * k.size(1) < at::get_num_threads()) return false;
  if (mask && mask->defined()) {
    const at::Tensor& m = *mask;
    if (m.requires_grad() || m.scalar_type() != type || m.dim() != 4 || m.size(1) != 1) return false;
    if ((m.size(0) != 1 && m.size(0) != q.size(0)) || m.size(2) != q.size(2) || m.size(3) != k.size(2)) return false;
  }
  return true;
}

at::Tensor attention_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const c10::optional<at::Tensor>& mask) {
  return BlockedAttention::apply(q, k, v, mask && mask->defined() ? mask : c10::nullopt);
}

}  // namespace llava
