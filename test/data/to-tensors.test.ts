// A collated batch as libtorch tensors: shapes, dtypes and values survive the conversion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collate } from '../../src/data/collate.js';
import { toTensors } from '../../src/data/to-tensors.js';

test('toTensors keeps shapes, dtypes (int64, int64, bool, float32) and values', () => {
  const pixels = { data: Float32Array.from({ length: 12 }, (_, i) => i / 4), shape: [3, 2, 2] as [3, number, number] };
  const batch = collate(
    [
      { inputIds: [1, -200, 5], labels: [-100, -100, 5], pixelValues: pixels },
      { inputIds: [1, 6], labels: [-100, 6], pixelValues: pixels },
    ],
    { padTokenId: 0, maxLength: 16 },
  );
  const t = toTensors(batch);
  assert.deepEqual([t.inputIds.shape, t.inputIds.dtype], [[2, 3], 'int64']);
  assert.deepEqual(Array.from(t.inputIds.toTypedArray() as BigInt64Array, Number), [1, -200, 5, 1, 6, 0]);
  assert.deepEqual(Array.from(t.labels.toTypedArray() as BigInt64Array, Number), [-100, -100, 5, -100, 6, -100]);
  assert.deepEqual(
    [t.attentionMask.dtype, Array.from(t.attentionMask.toTypedArray() as Uint8Array)],
    ['bool', [1, 1, 1, 1, 1, 0]],
  );
  assert.deepEqual([t.pixelValues!.shape, t.pixelValues!.dtype], [[2, 3, 2, 2], 'float32']);
  assert.deepEqual(Array.from(t.pixelValues!.toTypedArray() as Float32Array).slice(10, 14), [2.5, 2.75, 0, 0.25]);
});
