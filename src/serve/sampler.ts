// The next token of each row of a decode step, each row with its own settings: greedy at temperature 0, else
// transformers' sampling processors in its order (temperature, top-k, top-p) and one draw from the request's own
// seeded generator, so a seeded request samples the same tokens whoever shares its batch.
import { noGrad, scope, type Tensor } from '../torch/index.js';
import { processLogits, sampleRows as drawRows } from '../models/sampling.js';

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

/** logits [V] -> one id: generate()'s own processors and sampler, on this row with this request's draw. */
function sampleRow(logits: Tensor, p: SamplingParams, u: number): number {
  const options = { doSample: true, temperature: p.temperature, topK: p.topK, topP: p.topP, repetitionPenalty: 1 };
  const scores = processLogits(logits.unsqueeze(0), [[]], options); // [1, V]
  return Number(drawRows(scores.softmax(-1), [u]).item());
}
