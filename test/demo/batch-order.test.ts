// CLIP's hard-negative batches: every other epoch a batch gathers images of one colour group, the others are
// random; either way each epoch draws every row at most once, in distinct batches, and a seed repeats it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupedBatchOrder } from '../../src/demo/train-loop.js';

// 96 rows in 12 groups of 8, the group of row r being r % 12: a random batch of 8 rarely repeats a group.
const keys = Array.from({ length: 96 }, (_, r) => `g${r % 12}`);

test('epochs alternate random batches and batches of one group; rows never repeat within an epoch', () => {
  const order = groupedBatchOrder(keys, 8, 0);
  const perEpoch = 12;
  for (const epoch of [0, 1, 2, 3]) {
    const batches = Array.from({ length: perEpoch }, (_, b) => order(epoch * perEpoch + b).rows);
    const rows = batches.flat();
    assert.equal(new Set(rows).size, 96, `epoch ${epoch} draws each row once`);
    const groupsPerBatch = batches.map((b) => new Set(b.map((r) => keys[r])).size);
    if (epoch % 2 === 1) assert.deepEqual(groupsPerBatch, new Array(perEpoch).fill(1));
    else assert.ok(groupsPerBatch.every((g) => g > 2), `random batches mix groups: ${groupsPerBatch}`);
  }
  const again = groupedBatchOrder(keys, 8, 0);
  assert.deepEqual(again(13).rows, order(13).rows);
  assert.notDeepEqual(groupedBatchOrder(keys, 8, 1)(13).rows, order(13).rows);
});
