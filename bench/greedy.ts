// A timed greedy decode: what the decode benchmarks measure of our side.
import * as T from '../src/torch/index.js';
import type { LlamaForCausalLM } from '../src/models/index.js';
import { medianGap } from './report.js';

/**
 * Greedy decode of `newTokens` after `inputIds` [B, P]: the median time of a decode step (the steps after the
 * first, which is the prefill) and each row's new tokens.
 */
export async function timedGreedy(
  lm: LlamaForCausalLM,
  inputIds: T.Tensor,
  newTokens: number,
): Promise<{ ms: number; tokens: number[][] }> {
  const times: number[] = [];
  const out = await lm.generate({
    inputIds,
    maxNewTokens: newTokens,
    eosTokenId: null,
    onStep: () => times.push(performance.now()),
  });
  const [rows, width] = [out.size(0), out.size(1)];
  const ids = Array.from(out.toTypedArray() as BigInt64Array, Number);
  out.dispose();
  const prompt = inputIds.size(1);
  return {
    ms: medianGap(times),
    tokens: Array.from({ length: rows }, (_, b) => ids.slice(b * width + prompt, (b + 1) * width)),
  };
}
