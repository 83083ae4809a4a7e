// The tensor layer: checkpoints read as Tensors (golden files, single and sharded) and Tensors saved
// bit-exactly for every dtype, NaN payloads included.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { openSafetensors, saveSafetensors, saveShardedSafetensors } from '../../src/io/tensors.js';
import { tensor, type DType, type Tensor, type TypedArray } from '../../src/torch/index.js';
import { GOLDEN_DIR, scratchDir } from './helpers.js';

const dir = scratchDir();
const bytesOf = (a: TypedArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** One tensor per dtype, holding the values most likely to be altered on the way: NaN payloads, -0, extremes. */
function everyDtype(): Record<string, [Tensor, string]> {
  const t = (data: TypedArray, shape: number[], dtype: DType) => tensor(data, shape, dtype);
  return {
    f64: [
      t(
        new Float64Array(
          new BigUint64Array([0x7ff8000000000123n, 0xfff0000000000001n, 0x8000000000000000n, 1n]).buffer,
        ),
        [2, 2],
        'float64',
      ),
      'F64',
    ],
    f32: [
      t(
        new Float32Array(
          new Uint32Array([0x7fc00001, 0xff800001, 0x7f800001, 0x80000000, 0x00000001, 0x3f800000]).buffer,
        ),
        [3, 2],
        'float32',
      ),
      'F32',
    ],
    f16: [t(new Uint16Array([0x7e01, 0xfc01, 0x7c01, 0x8000, 0x0001, 0x3c00]), [6], 'float16'), 'F16'],
    bf16: [t(new Uint16Array([0x7fc1, 0xffff, 0x7f81, 0xff80, 0x8000, 0x3f80]), [2, 3], 'bfloat16'), 'BF16'],
    i64: [t(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, -1n]), [3], 'int64'), 'I64'],
    i32: [t(new Int32Array([-(2 ** 31), 2 ** 31 - 1, -100]), [3], 'int32'), 'I32'],
    i16: [t(new Int16Array([-32768, 32767, -1]), [3], 'int16'), 'I16'],
    i8: [t(new Int8Array([-128, 127, -1]), [3], 'int8'), 'I8'],
    u8: [t(new Uint8Array([0, 255, 128]), [3], 'uint8'), 'U8'],
    bool: [t(new Uint8Array([1, 0, 0, 1]), [2, 2], 'bool'), 'BOOL'],
    scalar: [t(new Float32Array([-2.5]), [], 'float32'), 'F32'],
    empty: [t(new Uint16Array(0), [0, 4], 'bfloat16'), 'BF16'],
  };
}

test('saveSafetensors -> readTensor is bit-exact for every dtype, with the safetensors dtype names in the file', () => {
  const cases = everyDtype();
  const path = join(dir, 'all.safetensors');
  saveSafetensors(path, Object.fromEntries(Object.entries(cases).map(([n, [t]]) => [n, t])), { format: 'pt' });
  const reader = openSafetensors(path);
  for (const [name, [original, stDtype]] of Object.entries(cases)) {
    assert.equal(reader.info(name).dtype, stDtype, name);
    const back = reader.readTensor(name);
    assert.equal(back.dtype, original.dtype, name);
    assert.deepEqual(back.shape, original.shape, name);
    assert.deepEqual(bytesOf(back.toTypedArray()), bytesOf(original.toTypedArray()), name);
  }
  reader.close();
  // The bytes on disk are the tensors' own: bf16 NaN payloads stay 0x7fc1, 0xffff, 0x7f81.
  const raw = SafetensorsFile.open(path).readRaw('bf16').data;
  assert.deepEqual(
    [...new Uint16Array(raw.buffer, raw.byteOffset, 6)],
    [0x7fc1, 0xffff, 0x7f81, 0xff80, 0x8000, 0x3f80],
  );
});

test('a non-contiguous tensor is saved in row-major order of its shape', () => {
  const t = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]).transpose(0, 1); // [[1, 4], [2, 5], [3, 6]]
  const path = join(dir, 'transposed.safetensors');
  saveSafetensors(path, { t });
  const back = openSafetensors(path).readTensor('t');
  assert.deepEqual(back.shape, [3, 2]);
  assert.deepEqual([...back.toTypedArray()], [1, 4, 2, 5, 3, 6]);
});

test('golden checkpoints open by directory and file, and read as Tensors holding the file bytes', () => {
  const model = openSafetensors(join(GOLDEN_DIR, 'llama_tiny')); // the directory: model.safetensors inside
  const embed = model.readTensor('model.embed_tokens.weight');
  assert.deepEqual([embed.shape, embed.dtype], [[512, 64], 'float32']);
  assert.equal(model.names().length, 21);
  const raw = SafetensorsFile.open(join(GOLDEN_DIR, 'llama_tiny/model.safetensors')).readRaw(
    'model.embed_tokens.weight',
  );
  assert.deepEqual(bytesOf(embed.toTypedArray()), raw.data);

  const fixtures = openSafetensors(join(GOLDEN_DIR, 'llama_tiny/fixtures.safetensors'));
  const ids = fixtures.readTensor('input_ids');
  assert.deepEqual([ids.shape, ids.dtype], [[2, 16], 'int64']);
  const values = ids.toTypedArray() as BigInt64Array;
  assert.deepEqual([values[0], values[16]], [1n, 1n]); // BOS in column 0
  const loss = fixtures.readTensor('loss');
  assert.deepEqual([loss.shape, loss.dtype], [[], 'float32']);
});

test('saveShardedSafetensors -> openSafetensors(dir) reads the same tensors through the index', () => {
  const cases = everyDtype();
  const tensors = Object.fromEntries(Object.entries(cases).map(([n, [t]]) => [n, t]));
  const out = join(dir, 'sharded');
  const files = saveShardedSafetensors(out, tensors, { maxShardSize: 24 });
  assert.ok(files.length > 2 && files.at(-1) === 'model.safetensors.index.json', files.join(', '));
  const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
  assert.deepEqual(Object.keys(index.weight_map).sort(), Object.keys(tensors).sort());
  const reader = openSafetensors(out);
  for (const [name, t] of Object.entries(tensors)) {
    const back = reader.readTensor(name);
    assert.deepEqual([back.dtype, back.shape], [t.dtype, t.shape], name);
    assert.deepEqual(bytesOf(back.toTypedArray()), bytesOf(t.toTypedArray()), name);
  }
  reader.close();
});

test('a directory with no checkpoint in it is a clear error', () => {
  assert.throws(
    () => openSafetensors(dir),
    new RegExp(`${dir}: no model.safetensors or model.safetensors.index.json in this directory`),
  );
});
