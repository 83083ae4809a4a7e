// Rotary scaling against the formulas computed by hand, and LLaVA splicing of several images
// per sample next to samples with none, against embeddings assembled by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { llamaConfig, LlavaForConditionalGeneration } from '../../src/models/index.js';
import { RotaryEmbedding } from '../../src/models/rope.js';
import { assertArrayClose } from '../helpers/close.js';
import { golden, maxAbsDiff } from '../helpers/golden.js';

const d = 8;
const base = llamaConfig({ hidden_size: 16, num_attention_heads: 2, max_position_embeddings: 16, rope_theta: 10000 });

/** cos(position · θ^(-2i/d)) for i < d/2, repeated for both halves, in float64. */
function expectedCos(position: number, theta: number, positionScale = 1): number[] {
  const half = Array.from({ length: d / 2 }, (_, i) => Math.cos((position / positionScale) * theta ** (-(2 * i) / d)));
  return [...half, ...half];
}

const cosAt = (config: typeof base, positions: number[]) => {
  const { cos } = new RotaryEmbedding(config).forward(
    T.tensor(BigInt64Array.from(positions.map(BigInt)), [1, positions.length]),
    'float32',
  );
  return positions.map((_, i) => Array.from(cos.select(1, i).reshape(d).toTypedArray() as Float32Array));
};

test('rotary embedding: plain, linear scaling (positions / factor), dynamic NTK (θ grows past max_position_embeddings)', () => {
  const positions = [0, 1, 5, 15];
  cosAt(base, positions).forEach((c, i) => assertArrayClose(c, expectedCos(positions[i]!, 10000), { atol: 2e-6 }));
  const linear = { ...base, rope_scaling: { type: 'linear' as const, factor: 4 } };
  cosAt(linear, positions).forEach((c, i) => assertArrayClose(c, expectedCos(positions[i]!, 10000, 4), { atol: 2e-6 }));
  const dynamic = { ...base, rope_scaling: { type: 'dynamic' as const, factor: 2 } };
  // within max_position_embeddings: unchanged
  cosAt(dynamic, positions).forEach((c, i) => assertArrayClose(c, expectedCos(positions[i]!, 10000), { atol: 2e-6 }));
  // a 40-long sequence: θ' = θ·(2·40/16 − 1)^(d/(d−2))
  const long = Array.from({ length: 40 }, (_, i) => i);
  const theta = 10000 * ((2 * 40) / 16 - 1) ** (d / (d - 2));
  const got = cosAt(dynamic, long);
  for (const p of [1, 7, 39]) assertArrayClose(got[p]!, expectedCos(p, theta), { atol: 5e-6 });
});

test('several images in one sample and none in another: spliced in order, with text between, rows aligned', () =>
  T.scope(() => {
    const { dir, fixture } = golden('llava_tiny');
    const model = LlavaForConditionalGeneration.fromPretrained(dir);
    const I = 500;
    const rows = [
      [1, I, 7, 8, I, 9],
      [1, 3, 4, 5, 6, 2],
    ];
    const inputIds = T.tensor(BigInt64Array.from(rows.flat().map(BigInt)), [2, 6]);
    const pixels = fixture('pixel_values'); // two images, both for row 0
    const prepared = model.prepareInputs({ inputIds, pixelValues: pixels });
    const P = 16;
    assert.deepEqual(prepared.inputsEmbeds!.shape, [2, 6 - 2 + 2 * P, 64]);
    const features = model.imageFeatures(pixels); // [2, 16, 64]
    const embed = (ids: number[]) =>
      model.language_model.model.embed_tokens.forward(T.tensor(BigInt64Array.from(ids.map(BigInt)), [ids.length]));
    const row0 = T.cat([embed([1]), features.select(0, 0), embed([7, 8]), features.select(0, 1), embed([9])]);
    assert.equal(maxAbsDiff(prepared.inputsEmbeds!.select(0, 0), row0), 0);
    // row 1 has no image: its 6 tokens, then padding on the right (mask 0, zero embeddings)
    assert.equal(maxAbsDiff(prepared.inputsEmbeds!.select(0, 1).narrow(0, 0, 6), embed(rows[1]!)), 0);
    assert.deepEqual(Array.from(prepared.attentionMask!.select(0, 1).toTypedArray() as BigInt64Array, Number), [
      ...new Array(6).fill(1),
      ...new Array(2 * P - 2).fill(0),
    ]);
    assert.equal(
      prepared
        .inputsEmbeds!.select(0, 1)
        .narrow(0, 6, 2 * P - 2)
        .abs()
        .sum()
        .item(),
      0,
    );

    // each row's logits equal the row run alone (where attended)
    const batch = model.forward({ inputIds, pixelValues: pixels }).logits;
    const alone0 = model.forward({ inputIds: inputIds.narrow(0, 0, 1), pixelValues: pixels }).logits;
    const alone1 = model.forward({ inputIds: inputIds.narrow(0, 1, 1) }).logits;
    assert.ok(maxAbsDiff(batch.narrow(0, 0, 1), alone0) <= 1e-4);
    assert.ok(maxAbsDiff(batch.narrow(0, 1, 1).narrow(1, 0, 6), alone1) <= 1e-4);
  }));
