// The tensor layer: .bin checkpoints opened as a file, an index or a directory hand out Tensors whose
// dtype, shape and bytes are PyTorch's (expected.json), like openSafetensors does for safetensors.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ShardedTorchBin } from '../../src/io/torch-bin-sharded.js';
import { openTorchBin } from '../../src/io/torch-bin-tensors.js';
import { TorchBinFile } from '../../src/io/torch-bin.js';
import type { Tensor } from '../../src/torch/index.js';
import { scratchDir } from './helpers.js';
import { expectedTensors, FIXTURES } from './torch-bin-fixtures.js';

const TORCH_DTYPE = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
} as const;

function bytesOf(t: Tensor): Uint8Array {
  const a = t.toTypedArray();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

test("every dtype and every view becomes a Tensor with PyTorch's dtype, shape and bytes", () => {
  for (const file of ['dtypes.bin', 'views.bin', 'mm_projector.bin']) {
    const reader = openTorchBin(join(FIXTURES, file));
    assert.ok(reader.source instanceof TorchBinFile);
    for (const { name, dtype, shape, data } of expectedTensors(file)) {
      const t = reader.readTensor(name);
      assert.equal(t.dtype, TORCH_DTYPE[dtype], `${file}: ${name}`);
      assert.deepEqual([...t.shape], shape, `${file}: ${name}`);
      assert.deepEqual(bytesOf(t), data, `${file}: ${name}`);
    }
    reader.close();
  }
});

test('a directory with pytorch_model.bin.index.json opens the shards; a directory with neither file is refused', () => {
  const reader = openTorchBin(FIXTURES);
  assert.ok(reader.source instanceof ShardedTorchBin);
  const t = reader.readTensor('lm_head.weight');
  const [expected] = expectedTensors('pytorch_model-00002-of-00002.bin').filter((e) => e.name === 'lm_head.weight');
  assert.deepEqual([t.dtype, [...t.shape]], ['float16', [8, 4]]);
  assert.deepEqual(bytesOf(t), expected.data);
  reader.close();
  const empty = join(scratchDir(), 'no-weights');
  mkdirSync(empty);
  assert.throws(
    () => openTorchBin(empty),
    /no-weights: no pytorch_model\.bin or pytorch_model\.bin\.index\.json in this directory/,
  );
});
