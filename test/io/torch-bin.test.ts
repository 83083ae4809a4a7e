// torch.save files read back bit-exactly: every fixture against the bytes PyTorch itself gave for each tensor
// (expected.json, written by make.py), in torch.load's order; views read as PyTorch's .contiguous() would.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTorchBin, TorchBinFile } from '../../src/io/torch-bin.js';
import { ShardedTorchBin } from '../../src/io/torch-bin-sharded.js';
import { expectedTensors, FIXTURES } from './torch-bin-fixtures.js';

function assertReadsAsPyTorch(file: string, expectedFrom = file): void {
  const expected = expectedTensors(expectedFrom);
  const read = readTorchBin(join(FIXTURES, file));
  assert.deepEqual(
    [...read.keys()],
    expected.map((t) => t.name),
    `${file}: names in torch.load's order`,
  );
  for (const { name, dtype, shape, data } of expected) {
    assert.deepEqual(read.get(name), { dtype, shape, data }, `${file}: ${name}`);
  }
}

test('mm_projector.bin (a module state_dict: OrderedDict with _metadata) reads bit-exact, full key prefixes kept', () => {
  assertReadsAsPyTorch('mm_projector.bin');
  assert.deepEqual(
    readTorchBin(join(FIXTURES, 'mm_projector.bin')).get('model.mm_projector.0.weight')?.shape,
    [32, 16],
  );
});

test('non_lora_trainables.bin (a plain dict of bf16 tensors, PEFT prefix) reads bit-exact', () => {
  assertReadsAsPyTorch('non_lora_trainables.bin');
});

test('every dtype reads bit-exact: NaN payloads, -0, infinities, subnormals, int64 extremes, bool, a scalar, an empty tensor', () => {
  assertReadsAsPyTorch('dtypes.bin');
  const read = readTorchBin(join(FIXTURES, 'dtypes.bin'));
  // Hand-written bit patterns from make.py, independent of the manifest.
  assert.deepEqual(
    [...new Uint32Array(read.get('f32')!.data.slice(0, 20).buffer)],
    [0x7fc00001, 0xff800001, 0x7f800000, 0x80000000, 0x00000001],
  );
  assert.deepEqual(
    [...new BigInt64Array(read.get('i64')!.data.slice().buffer)],
    [-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n, 2n ** 53n + 1n],
  );
  assert.deepEqual(read.get('scalar'), {
    dtype: 'F32',
    shape: [],
    data: new Uint8Array(new Float32Array([-2.5]).buffer),
  });
  assert.deepEqual(read.get('empty'), { dtype: 'BF16', shape: [0, 4], data: new Uint8Array(0) });
});

test('nn.Parameters (pickled through _rebuild_parameter) read as their tensors, trainable or not', () => {
  assertReadsAsPyTorch('parameters.bin');
});

test('views read as their contiguous copies: transposed, offset slices, step slices, stride-0 expand, tied weights', () => {
  assertReadsAsPyTorch('views.bin');
  const file = TorchBinFile.open(join(FIXTURES, 'views.bin'));
  // base = arange(24).reshape(4, 6): these are the views' layouts in PyTorch's terms, computed by hand.
  assert.deepEqual(file.info('transposed'), {
    dtype: 'F32',
    shape: [6, 4],
    storage: '0',
    storageOffset: 0,
    stride: [1, 6],
  });
  assert.deepEqual(file.info('column_slice'), {
    dtype: 'F32',
    shape: [2, 3],
    storage: '0',
    storageOffset: 8,
    stride: [6, 1],
  });
  assert.deepEqual(file.info('strided'), {
    dtype: 'F32',
    shape: [2, 3],
    storage: '0',
    storageOffset: 1,
    stride: [12, 2],
  });
  assert.deepEqual(file.info('expanded'), {
    dtype: 'I64',
    shape: [2, 3],
    storage: '1',
    storageOffset: 0,
    stride: [0, 1],
  });
  assert.deepEqual([...new Float32Array(file.readRaw('strided').data.buffer)], [1, 3, 5, 13, 15, 17]);
  assert.deepEqual([...new Float32Array(file.readRaw('column_slice').data.buffer)], [8, 9, 10, 14, 15, 16]);
  // Tied weights are one storage in the file, read as two equal tensors.
  assert.equal(file.info('embed_tokens.weight').storage, file.info('lm_head.weight').storage);
  assert.equal(file.info('embed_row').storageOffset, 6);
  file.close();
});

test('a zip written by Python zipfile with deflate reads the same as the stored original', () => {
  assertReadsAsPyTorch('deflated.bin', 'dtypes.bin');
});

test('a file whose byteorder record says "big" is byte-swapped back to the same values', () => {
  assertReadsAsPyTorch('big_endian.bin', 'dtypes.bin');
});

test('a sharded checkpoint reads through pytorch_model.bin.index.json, each tensor from its shard', () => {
  const sharded = ShardedTorchBin.open(join(FIXTURES, 'pytorch_model.bin.index.json'));
  assert.deepEqual(sharded.shardFiles(), ['pytorch_model-00002-of-00002.bin', 'pytorch_model-00001-of-00002.bin']);
  assert.deepEqual(sharded.metadata, { total_size: 2 * (8 * 4 + 4 + 4 + 8 * 4) }); // fp16 bytes of the four tensors
  const expected = [
    ...expectedTensors('pytorch_model-00001-of-00002.bin'),
    ...expectedTensors('pytorch_model-00002-of-00002.bin'),
  ];
  assert.deepEqual(sharded.names().sort(), expected.map((t) => t.name).sort());
  for (const { name, dtype, shape, data } of expected)
    assert.deepEqual(sharded.readRaw(name), { dtype, shape, data }, name);
  sharded.close();
  for (const shard of ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin'])
    assertReadsAsPyTorch(shard);
});

test('the archive directory is taken from the file (older PyTorch names it after the saved file, newer "archive")', () => {
  const file = TorchBinFile.open(join(FIXTURES, 'views.bin'));
  assert.equal(file.archive, 'views');
  file.close();
});
