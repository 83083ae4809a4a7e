// The next token of each row of a decode step, each row with its own settings: greedy at temperature 0, else
// transformers' sampling processors in its order (temperature, top-k, top-p) and one draw from the request's own
// seeded generator, so a seeded request samples the same tokens whoever shares its batch.
import { cat, full, noGrad, scope, type Tensor } from '../torch/index.js';

export interface SamplingParams {
  /** 0: greedy. */
  temperature: number;
  /** 1: off. */
  topP: number;
  /** 0: off. */
  topK: number;
}

/** logits [n, V] float32 -> one id per row; `draw[b]()` gives row b's uniform number in [0, 1). */
export function sampleRows(logits: Tensor, params: SamplingParams[], draw: (() => number)[]): number[] {
  return scope(() =>
    noGrad(() => {
      const greedy = Array.from(logits.argmax(-1).toTypedArray() as BigInt64Array, Number);
      return params.map((p, b) => (p.temperature > 0 ? sampleRow(logits.select(0, b), p, draw[b]!()) : greedy[b]!));
    }),
  );
}

/** logits [V] -> the first id whose cumulative probability passes u·total: a draw from the processed softmax. */
function sampleRow(logits: Tensor, p: SamplingParams, u: number): number {
  let scores = p.temperature !== 1 ? logits.div(p.temperature) : logits;
  const V = scores.size(0);
  if (p.topK > 0 && p.topK < V) {
    const kth = scores.topk(p.topK, -1).values.narrow(0, p.topK - 1, 1);
    scores = scores.maskedFill(scores.lt(kth), -Infinity);
  }
  if (p.topP < 1) {
    // Ascending sort; drop the low tail whose mass is at most 1 - topP, always keeping the most likely token.
    const { values, indices } = scores.sort(-1, false);
    const tail = values
      .softmax(-1)
      .cumsum(-1)
      .le(1 - p.topP)
      .narrow(0, 0, V - 1);
    const remove = cat([tail, full([1], false, { device: scores.device })]);
    scores = scores.maskedFill(remove.scatter(0, indices, remove), -Infinity);
  }
  const cdf = scores.softmax(-1).cumsum(0);
  const total = cdf.select(0, V - 1).item();
  return Math.min(
    cdf
      .le(u * total)
      .sum()
      .item(),
    V - 1,
  );
}
