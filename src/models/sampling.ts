// Choosing the next token: transformers' logits processors in its order (repetition penalty,
// then for sampling temperature, top-k, top-p), and a sampler that draws from a per-call seeded
// generator (src/data/rng.ts), never libtorch's global one, so concurrent generations and a
// training loop never disturb each other. One uniform per row and step; the rest is torch ops.
import { cat, full, tensor, where, type Tensor } from '../torch/index.js';

export type LogitsOptions = {
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
};

/** scores [B, V] after repetition penalty, and for sampling temperature, top-k and top-p, in transformers' order. */
export function processLogits(logits: Tensor, history: number[][], o: LogitsOptions): Tensor {
  let scores = logits;
  if (o.repetitionPenalty !== 1) {
    const width = Math.max(...history.map((h) => h.length));
    const seen = tensor(
      BigInt64Array.from(history.flatMap((h) => [...h, ...new Array(width - h.length).fill(h[0] ?? 0)]).map(BigInt)),
      [history.length, width],
    ).to(scores.device);
    const s = scores.gather(1, seen);
    scores = scores.scatter(1, seen, where(s.lt(0), s.mul(o.repetitionPenalty), s.div(o.repetitionPenalty)));
  }
  if (!o.doSample) return scores;
  if (o.temperature !== 1) scores = scores.div(o.temperature);
  if (o.topK > 0 && o.topK < scores.size(-1)) {
    const kth = scores.topk(o.topK, -1).values.narrow(-1, o.topK - 1, 1);
    scores = scores.maskedFill(scores.lt(kth), -Infinity);
  }
  if (o.topP < 1) {
    const { values, indices } = scores.sort(-1, false);
    const remove = values
      .softmax(-1)
      .cumsum(-1)
      .le(1 - o.topP);
    const V = scores.size(-1);
    const keepLast = remove.narrow(-1, 0, V - 1);
    const sortedRemove = cat([keepLast, full([scores.size(0), 1], false, { device: scores.device })], -1);
    scores = scores.maskedFill(sortedRemove.scatter(1, indices, sortedRemove), -Infinity);
  }
  return scores;
}

/**
 * One index per row of probs [B, V] (unnormalised, non-negative): the first token whose
 * cumulative probability exceeds u[b]·total, u[b] in [0, 1). A token of probability 0 is never
 * chosen (its cumulative value equals its predecessor's). -> int64 [B]
 */
export function sampleRows(probs: Tensor, u: number[]): Tensor {
  const [B, V] = probs.shape as [number, number];
  const cdf = probs.to('float64').cumsum(-1); // [B, V]
  const target = cdf.narrow(1, V - 1, 1).mul(tensor(Float64Array.from(u), [B, 1]).to(probs.device)); // [B, 1]
  // Rounding can put u·total at the total itself: the last index then, not one past it.
  return cdf
    .le(target)
    .sum(-1)
    .clamp(0, V - 1);
}
