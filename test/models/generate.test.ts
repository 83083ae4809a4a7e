// Generation options against independent truth: a cache-free reference loop whose logits
// processing is written out by hand in JS, and the greedy result for limiting cases of sampling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { LlamaForCausalLM } from '../../src/models/index.js';
import { sampleRows } from '../../src/models/sampling.js';
import { golden, ids } from '../helpers/golden.js';

const { dir, fixture } = golden('llama_tiny');
const model = LlamaForCausalLM.fromPretrained(dir);
const prompt = fixture('gen.prompt_ids'); // [1, 6]

/** Greedy with repetition penalty, recomputing the whole sequence each step (no KV cache). */
function referenceGreedy(promptIds: number[], steps: number, penalty: number): number[] {
  const seq = [...promptIds];
  for (let s = 0; s < steps; s++) {
    const logits = T.scope(() =>
      Array.from(
        model
          .forward({ inputIds: T.tensor(BigInt64Array.from(seq.map(BigInt)), [1, seq.length]) })
          .logits.select(1, -1)
          .toTypedArray() as Float32Array,
      ),
    );
    for (const id of new Set(seq)) logits[id] = logits[id]! < 0 ? logits[id]! * penalty : logits[id]! / penalty;
    seq.push(logits.indexOf(Math.max(...logits)));
  }
  return seq.slice(promptIds.length);
}

const newTokens = (seq: T.Tensor) => ids(seq.narrow(1, prompt.size(1), seq.size(1) - prompt.size(1)));

test('greedy with the KV cache equals a cache-free loop, with and without repetition penalty', async () => {
  for (const penalty of [1, 1.5]) {
    const seq = await model.generate({
      inputIds: prompt,
      maxNewTokens: 6,
      eosTokenId: null,
      repetitionPenalty: penalty,
    });
    assert.deepEqual(newTokens(seq), referenceGreedy(ids(prompt), 6, penalty), `penalty ${penalty}`);
  }
});

test('sampling is reproducible by seed, and differs across seeds', async () => {
  const run = (seed: number) =>
    model.generate({
      inputIds: prompt,
      maxNewTokens: 12,
      eosTokenId: null,
      doSample: true,
      temperature: 2,
      topK: 0,
      seed,
    });
  assert.deepEqual(ids(await run(7)), ids(await run(7)));
  const distinct = new Set<string>();
  for (const seed of [1, 2, 3, 4]) distinct.add(ids(await run(seed)).join());
  assert.ok(distinct.size > 1, 'four seeds gave one continuation');
});

test('seeded generations own their randomness: interleaved equal alone, a global manualSeed between steps changes nothing', async () => {
  const run = (seed: number, onStep?: () => void) =>
    model.generate({
      inputIds: prompt,
      maxNewTokens: 10,
      eosTokenId: null,
      doSample: true,
      temperature: 2,
      topK: 0,
      seed,
      onStep,
    });
  const alone = [ids(await run(11)), ids(await run(12))];
  assert.notDeepEqual(alone[0], alone[1], 'two seeds, two continuations');
  // Both run at once: each yields to the event loop between steps, so their steps alternate.
  const order: number[] = [];
  const together = await Promise.all([run(11, () => order.push(11)), run(12, () => order.push(12))]);
  assert.deepEqual(order.slice(0, 4), [11, 12, 11, 12], 'the two generations interleaved');
  assert.deepEqual(together.map(ids), alone);
  assert.deepEqual(ids(await run(11, () => T.manualSeed(0))), alone[0]);
  // Unseeded, a generation takes its seed from the global generator: manualSeed reproduces it.
  const unseeded = async () => {
    T.manualSeed(99);
    return ids(await model.generate({ inputIds: prompt, maxNewTokens: 10, eosTokenId: null, doSample: true, topK: 0 }));
  };
  assert.deepEqual(await unseeded(), await unseeded());
});

test('the sampler picks the token whose cumulative probability first exceeds u·total, never a zero-probability one', () => {
  // Row 0: cdf 0.1, 0.1, 0.7, 1.0 (token 1 has probability 0); row 1 unnormalised: cdf 2, 2, 2, 4.
  const probs = T.tensor([0.1, 0, 0.6, 0.3, 2, 0, 0, 2], [2, 4]);
  const pick = (u0: number, u1: number) => ids(sampleRows(probs, [u0, u1]));
  assert.deepEqual(pick(0, 0), [0, 0]);
  assert.deepEqual(pick(0.05, 0.49), [0, 0]);
  assert.deepEqual(pick(0.1, 0.5), [2, 3]); // u·total on a boundary goes to the next token with mass
  assert.deepEqual(pick(0.69, 0.999), [2, 3]);
  assert.deepEqual(pick(0.71, 0.75), [3, 3]);
  assert.deepEqual(pick(1 - 2 ** -53, 1 - 2 ** -53), [3, 3]);
});

test('sampling limits reduce to greedy: topK 1, a tiny topP, a tiny temperature', async () => {
  const greedy = newTokens(await model.generate({ inputIds: prompt, maxNewTokens: 8, eosTokenId: null }));
  for (const o of [{ topK: 1 }, { topP: 1e-6, topK: 0 }, { temperature: 1e-4 }]) {
    const sampled = await model.generate({
      inputIds: prompt,
      maxNewTokens: 8,
      eosTokenId: null,
      doSample: true,
      seed: 3,
      ...o,
    });
    assert.deepEqual(newTokens(sampled), greedy, JSON.stringify(o));
  }
});

test('topK keeps sampling inside the k most likely tokens', async () => {
  const first = T.scope(() =>
    Array.from(model.forward({ inputIds: prompt }).logits.select(1, -1).toTypedArray() as Float32Array),
  );
  const top3 = first
    .map((v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, 3)
    .map(([, i]) => i);
  for (let seed = 0; seed < 20; seed++) {
    const seq = await model.generate({
      inputIds: prompt,
      maxNewTokens: 1,
      eosTokenId: null,
      doSample: true,
      topK: 3,
      temperature: 5,
      seed,
    });
    assert.ok(top3.includes(newTokens(seq)[0]!), `seed ${seed} sampled outside the top 3`);
  }
});

test('EOS stops a row; in a batch the finished row is padded while the other goes on', async () => {
  const greedy = newTokens(await model.generate({ inputIds: prompt, maxNewTokens: 8, eosTokenId: null }));
  const eos = greedy[2]!;
  const stopped = await model.generate({ inputIds: prompt, maxNewTokens: 8, eosTokenId: eos });
  assert.deepEqual(newTokens(stopped), greedy.slice(0, 3));

  const batch = fixture('gen_leftpad.prompt_ids');
  const mask = fixture('gen_leftpad.prompt_attention_mask');
  const expected = ids(fixture('gen_leftpad.new_tokens')); // [2, 8] row-major
  const rowEos = expected[1]!; // row 0's second token
  const out = await model.generate({
    inputIds: batch,
    attentionMask: mask,
    maxNewTokens: 8,
    eosTokenId: rowEos,
    padTokenId: 0,
  });
  const rows = [ids(out.select(0, 0)).slice(6), ids(out.select(0, 1)).slice(6)];
  assert.deepEqual(rows[0]!.slice(0, 2), expected.slice(0, 2));
  assert.ok(
    rows[0]!.slice(2).every((t) => t === 0),
    'finished row is padded',
  );
  const row1Stop = expected.slice(8).indexOf(rowEos);
  const row1 = row1Stop >= 0 ? expected.slice(8, 8 + row1Stop + 1) : expected.slice(8);
  assert.deepEqual(rows[1]!.slice(0, row1.length), row1);
});

test('stop strings end the generation once the decoded text contains them; steps stream as they come', async () => {
  const greedy = newTokens(await model.generate({ inputIds: prompt, maxNewTokens: 8, eosTokenId: null }));
  const decode = (t: number[]) => t.map((id) => `<${id}>`).join('');
  const streamed: number[] = [];
  const seq = await model.generate({
    inputIds: prompt,
    maxNewTokens: 8,
    eosTokenId: null,
    stopStrings: [`<${greedy[3]}>`],
    decode,
    onStep: ({ tokens }) => streamed.push(tokens[0]!),
  });
  assert.deepEqual(newTokens(seq), greedy.slice(0, 4));
  assert.deepEqual(streamed, greedy.slice(0, 4));
});

test('invalid generation options are named', async () => {
  await assert.rejects(
    model.generate({ inputIds: prompt, maxNewTokens: 0 }),
    /maxNewTokens must be a positive integer/,
  );
  await assert.rejects(model.generate({ inputIds: prompt, maxNewTokens: 2, topP: 1.5 }), /topP must be in \(0, 1\]/);
  await assert.rejects(
    model.generate({ inputIds: prompt, maxNewTokens: 2, temperature: 0 }),
    /temperature must be > 0/,
  );
  await assert.rejects(
    model.generate({ inputIds: prompt, maxNewTokens: 2, stopStrings: ['x'] }),
    /stopStrings need a decode function/,
  );
  await assert.rejects(
    model.generate({ inputIds: prompt, maxNewTokens: 2, doSample: true, seed: 1.5 }),
    /seed must be an integer, got 1.5/,
  );
});
