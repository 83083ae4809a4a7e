// llava::attention's blocked path (native/attention_train.cc): softmax attention a block of query rows at a time,
// with its own backward.
#pragma once
#include <ATen/ATen.h>

namespace llava {

// Whether a call is one the blocked path takes: under autograd or with more than `decode_rows` queries, fp32 or
// fp64 on the CPU, an additive mask [B or 1, 1, T, S] that takes no gradient, and at least as many
// (batch, key/value head) pairs as threads.
bool takes_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                   const c10::optional<at::Tensor>& mask, int64_t decode_rows);

at::Tensor attention_blocked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const c10::optional<at::Tensor>& mask);

}  // namespace llava
