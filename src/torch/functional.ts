// Functions over several tensors, and the neural-network operators (torch.nn.functional).
import { aten, llavaOp } from './aten.js';
import type { Handle, OpResult } from './native.js';
import { Tensor } from './tensor.js';

const op = {
  cat: aten('cat'),
  stack: aten('stack'),
  where: aten('where', 'self'),
  whereScalar: aten('where', 'ScalarOther'),
  linear: llavaOp('linear'),
  rmsNorm: llavaOp('rms_norm'),
  applyRotary: llavaOp('apply_rotary'),
  attention: llavaOp('attention'),
  siluMul: llavaOp('silu_mul'),
  decoderLayer: llavaOp('decoder_layer'),
  adamwStep: llavaOp('adamw_step_'),
  layerNorm: aten('layer_norm'),
  embedding: aten('embedding'),
  conv2d: aten('conv2d'),
  gelu: aten('gelu'),
  silu: aten('silu'),
  dropout: aten('dropout'),
  crossEntropy: aten('cross_entropy_loss'),
  mseLoss: aten('mse_loss'),
  powScalarBase: aten('pow', 'Scalar'),
};
const wrap = (r: OpResult) => new Tensor(r as Handle);
const handles = (ts: Tensor[]) => ts.map((t) => t.handle);

export const cat = (tensors: Tensor[], dim = 0) => wrap(op.cat(handles(tensors), dim));
export const stack = (tensors: Tensor[], dim = 0) => wrap(op.stack(handles(tensors), dim));
/** Elementwise `condition ? a : b`. */
export const where = (condition: Tensor, a: Tensor, b: Tensor | number) =>
  wrap(
    b instanceof Tensor
      ? op.where(condition.handle, a.handle, b.handle)
      : op.whereScalar(condition.handle, a.handle, b),
  );

/** base ** exponent elementwise, for a number base (torch.pow(10000.0, t)). */
export const powBase = (base: number, exponent: Tensor) => wrap(op.powScalarBase(base, exponent.handle));

/**
 * x [..., in] · weightᵀ [out, in] + bias [out], as aten::linear. Up to 8 rows outside autograd (decoding) take the
 * addon's kernel (native/linear_rows.cc), which reads the weights once for all rows at memory speed.
 */
export const linear = (x: Tensor, weight: Tensor, bias?: Tensor): Tensor =>
  wrap(op.linear(x.handle, weight.handle, bias?.handle));
/**
 * LLaMA's RMSNorm: weight · x / √(mean(x², -1) + eps), in float32, cast back to x's dtype before the weight.
 * Float32 CPU inputs take the addon's one-pass kernel and backward (native/rms_norm.cc).
 */
export const rmsNorm = (x: Tensor, weight: Tensor, eps: number) => wrap(op.rmsNorm(x.handle, weight.handle, eps));
/** Rotary embedding of x [B, H, T, d] with cos, sin [B, T, d]: x·cos + rotate_half(x)·sin (transformers'). */
export const applyRotary = (x: Tensor, cos: Tensor, sin: Tensor) =>
  wrap(op.applyRotary(x.handle, cos.handle, sin.handle));
/**
 * transformers' eager LLaMA attention: softmax(q·kᵀ/√d + mask, in float32) · v, for query [B, H, T, d], key and
 * value [B, H_kv, S, d] (query head h reads key/value head h / (H / H_kv)) and an additive mask [B, 1, T, S] in
 * the query's dtype. A decode step outside autograd runs the addon's own loop (native/attention.cc).
 */
export const attention = (query: Tensor, key: Tensor, value: Tensor, mask?: Tensor) =>
  wrap(op.attention(query.handle, key.handle, value.handle, mask?.handle));
export const layerNorm = (x: Tensor, normalizedShape: number[], weight?: Tensor, bias?: Tensor, eps = 1e-5) =>
  wrap(op.layerNorm(x.handle, normalizedShape, weight?.handle, bias?.handle, eps));
/** weight [num, dim] rows picked by ids [...] -> [..., dim]. */
export const embedding = (ids: Tensor, weight: Tensor, paddingIdx = -1) =>
  wrap(op.embedding(weight.handle, ids.handle, paddingIdx));
/** x [N, C, H, W] with weight [O, C/groups, kh, kw]. */
export const conv2d = (
  x: Tensor,
  weight: Tensor,
  bias?: Tensor,
  stride: number | number[] = 1,
  padding: number | number[] = 0,
  dilation: number | number[] = 1,
  groups = 1,
) => wrap(op.conv2d(x.handle, weight.handle, bias?.handle, pair(stride), pair(padding), pair(dilation), groups));
/** GELU exact ('none', erf) or the tanh approximation ('tanh', GPT-2's gelu_new). */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none') => wrap(op.gelu(x.handle, approximate));
/** CLIP's x·σ(1.702x). */
export const quickGelu = (x: Tensor) => x.mul(x.mul(1.702).sigmoid());
export const silu = (x: Tensor) => wrap(op.silu(x.handle));
/** silu(gate) · up (LLaMA's SwiGLU gate) in one operator; float32/float64 CPU tensors saved without silu(gate). */
export const siluMul = (gate: Tensor, up: Tensor) => wrap(op.siluMul(gate.handle, up.handle));
/**
 * One LLaMA decoder layer over a KV cache outside autograd, in one native call (native/decoder_layer.cc): the same
 * operators as the layer's modules in the same order, so bitwise their result, without ~30 calls from JavaScript.
 * weights: input_layernorm, q/k/v/o_proj, post_attention_layernorm, gate/up/down_proj; biases: [] or q/k/v/o_proj's;
 * keysT [B, H_kv, d, S], values [B, H_kv, S, d]: the cache's windows, whose last T positions it writes.
 */
export const decoderLayer = (
  hidden: Tensor,
  weights: Tensor[],
  biases: Tensor[],
  rotary: { cos: Tensor; sin: Tensor },
  mask: Tensor | undefined,
  cache: { keysT: Tensor; values: Tensor },
  heads: number,
  eps: number,
) =>
  wrap(
    op.decoderLayer(
      hidden.handle,
      handles(weights),
      handles(biases),
      rotary.cos.handle,
      rotary.sin.handle,
      mask?.handle,
      cache.keysT.handle,
      cache.values.handle,
      heads,
      eps,
    ),
  );
/** Dropout with probability p when training; identity otherwise. */
export const dropout = (x: Tensor, p: number, training: boolean) => wrap(op.dropout(x.handle, p, training));

const REDUCTION = { none: 0, mean: 1, sum: 2 } as const;
export type Reduction = keyof typeof REDUCTION;

/**
 * logits [N, C] (or [N, C, d...]) against int64 targets [N]; targets equal to ignoreIndex
 * (-100 by default, as in PyTorch and the LLaVA labels) add nothing and are left out of the mean.
 */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  options: { ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number; weight?: Tensor } = {},
): Tensor {
  return wrap(
    op.crossEntropy(
      logits.handle,
      target.handle,
      options.weight?.handle,
      REDUCTION[options.reduction ?? 'mean'],
      options.ignoreIndex ?? -100,
      options.labelSmoothing ?? 0,
    ),
  );
}
export const mseLoss = (input: Tensor, target: Tensor, reduction: Reduction = 'mean') =>
  wrap(op.mseLoss(input.handle, target.handle, REDUCTION[reduction]));

function pair(v: number | number[]): number[] {
  return Array.isArray(v) ? v : [v, v];
}

/**
 * One AdamW update of `param` in place, torch.optim.AdamW's single-tensor formula: param ·= 1 − lr·wd;
 * m ← lerp(m, grad, 1 − β1); v ← β2·v + (1 − β2)·grad²; param += −lr/(1 − β1^step) · m / (√v/√(1 − β2^step) + ε).
 * One pass over the four arrays for contiguous fp32/fp64 CPU tensors (native/adamw.cc), the operators otherwise.
 */
export const adamwStep_ = (
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  h: { lr: number; beta1: number; beta2: number; weightDecay: number; eps: number; step: number },
): void => {
  op.adamwStep(
    param.handle,
    grad.handle,
    expAvg.handle,
    expAvgSq.handle,
    h.lr,
    h.beta1,
    h.beta2,
    h.weightDecay,
    h.eps,
    h.step,
  );
};
