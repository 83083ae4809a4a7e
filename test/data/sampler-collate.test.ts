// The length-grouped sampler's structure (spec §4.9) and the collator's padding, truncation and image stacking,
// against hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochOrder } from '../../src/data/sampler.js';
import { collate } from '../../src/data/collate.js';
import { permutation, rng } from '../../src/data/rng.js';

test('rng: reproducible per (seed, stream), different across them; permutations are permutations', () => {
  const a = rng(5, 1);
  const b = rng(5, 1);
  const draws = [a(), a(), a()];
  assert.deepEqual([b(), b(), b()], draws);
  assert.notDeepEqual([rng(5, 2)(), rng(6, 1)()], [draws[0], draws[0]]);
  assert.ok(draws.every((x) => x >= 0 && x < 1));
  assert.deepEqual(
    permutation(50, rng(1)).sort((x, y) => x - y),
    Array.from({ length: 50 }, (_, i) => i),
  );
});

test('plain shuffling covers every index once; group-by-length sorts each megabatch longest first', () => {
  const lengths = [5, 1, 9, 3, 7, 2, 8, 4, 6];
  const plain = epochOrder(lengths, 0, { seed: 1, batchSize: 3 });
  assert.deepEqual([...plain].sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const grouped = epochOrder(lengths, 0, { seed: 1, batchSize: 3, groupByModalityLength: true });
  for (let m = 0; m < 9; m += 3) {
    const ls = grouped.slice(m, m + 3).map((i) => lengths[i]!);
    assert.deepEqual(
      ls,
      [...ls].sort((x, y) => y - x),
      `megabatch ${m / 3}`,
    );
  }
});

test('with two ranks a megabatch is split so each rank gets a balanced total length', () => {
  // One megabatch of 4 (batch 2 x world 2) with lengths 10, 9, 2, 1: sorted 10, 9, 2, 1; greedy to the shortest
  // rank: 10 -> r0, 9 -> r1, 2 -> r1 (9 < 10), r1 full, 1 -> r0. Ranks: [10, 1] and [9, 2].
  const lengths = [2, 10, 1, 9];
  const order = epochOrder(lengths, 0, { seed: 9, batchSize: 2, worldSize: 2, groupByModalityLength: true });
  assert.deepEqual(
    order.map((i) => lengths[i]),
    [10, 1, 9, 2],
  );
});

test('right padding (the reference): pad id and -100, truncation to max length, mask = ids != pad', () => {
  const b = collate(
    [
      { inputIds: [1, 5, 0, 6], labels: [-100, 5, 0, 6] }, // a real <unk> (0) is masked like padding, as in the reference
      { inputIds: [1, -200, 7, 8, 9, 10], labels: [-100, -100, 7, 8, 9, 10] },
    ],
    { padTokenId: 0, maxLength: 5 },
  );
  assert.deepEqual(b.shape, [2, 5]);
  assert.deepEqual(Array.from(b.inputIds, Number), [1, 5, 0, 6, 0, 1, -200, 7, 8, 9]);
  assert.deepEqual(Array.from(b.labels, Number), [-100, 5, 0, 6, -100, -100, -100, 7, 8, 9]);
  assert.deepEqual(Array.from(b.attentionMask), [1, 1, 0, 1, 0, 1, 1, 1, 1, 1]);
  assert.equal(b.pixelValues, null);
});

test('left padding puts the pad first; images stack to [N, 3, H, W]; mismatched shapes are an error', () => {
  const img = (v: number, s = 2) => ({
    data: new Float32Array(3 * s * s).fill(v),
    shape: [3, s, s] as [3, number, number],
  });
  const b = collate(
    [
      { inputIds: [1, 2], labels: [-100, 2], pixelValues: img(1) },
      { inputIds: [1, 3, 4], labels: [-100, 3, 4], pixelValues: img(2) },
    ],
    { padTokenId: 0, maxLength: 8, paddingSide: 'left' },
  );
  assert.deepEqual(Array.from(b.inputIds, Number), [0, 1, 2, 1, 3, 4]);
  assert.deepEqual(Array.from(b.labels, Number), [-100, -100, 2, -100, 3, 4]);
  assert.deepEqual(Array.from(b.attentionMask), [0, 1, 1, 1, 1, 1]);
  assert.deepEqual(b.pixelShape, [2, 3, 2, 2]);
  assert.deepEqual(Array.from(b.pixelValues!.subarray(11, 13)), [1, 2]);
  assert.throws(
    () =>
      collate(
        [
          { inputIds: [1], labels: [1], pixelValues: img(0) },
          { inputIds: [1], labels: [1], pixelValues: img(0, 3) },
        ],
        { padTokenId: 0, maxLength: 4 },
      ),
    /image 1 is 3x3x3 but image 0 is 3x2x2/,
  );
  assert.throws(
    () => collate([{ inputIds: [1, 2], labels: [1] }], { padTokenId: 0, maxLength: 4 }),
    /example 0 has 2 input ids but 1 labels/,
  );
  assert.throws(() => collate([], { padTokenId: 0, maxLength: 4 }), /empty batch/);
});
