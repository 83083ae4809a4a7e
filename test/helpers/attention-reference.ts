// The float64 formulas that the addon's attention kernels are checked against, written with plain operators.
import * as T from '../../src/torch/index.js';
import { maxAbsDiff } from './golden.js';

export const f64 = (t: T.Tensor) => t.to('float64');

/** max |a - b| / max |b|: one scale for the whole output. */
export function relativeError(a: T.Tensor, b: T.Tensor): number {
  return T.scope(() => maxAbsDiff(f64(a), b) / f64(b).abs().max().item());
}

/** softmax(q·kᵀ/√d + mask)·v in float64, key/value heads repeated for grouped-query attention. */
export function attentionReference(q: T.Tensor, k: T.Tensor, v: T.Tensor, mask?: T.Tensor): T.Tensor {
  const [B, H, , d] = q.shape as [number, number, number, number];
  const [, Hkv, S] = k.shape as [number, number, number];
  const repeat = (t: T.Tensor) =>
    f64(t)
      .unsqueeze(2)
      .expand(B, Hkv, H / Hkv, S, d)
      .reshape(B, H, S, d);
  let scores = f64(q).matmul(repeat(k).transpose(2, 3)).div(Math.sqrt(d));
  if (mask) scores = scores.add(f64(mask));
  return scores.softmax(-1).matmul(repeat(v));
}
