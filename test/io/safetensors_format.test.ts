// The writer produces the reference library's exact bytes (header text, 8-byte padding, tensor order), and
// write -> read is bit-exact for every dtype, NaN payloads included. Expected bytes are written out by hand.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsError, SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import type { SafetensorsDType, TensorToWrite } from '../../src/io/safetensors.js';
import { f32, safetensorsBytes, scratchDir } from './helpers.js';

const dir = scratchDir();

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

test('one F32 tensor: 64-byte header needs no padding', () => {
  const path = join(dir, 'attn.safetensors');
  writeSafetensors(path, { 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: f32(0, 1, 2, 3, 4, 5) } });
  const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'; // 64 characters
  const expected = Buffer.concat([Buffer.from([64, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(header), f32(0, 1, 2, 3, 4, 5)]);
  assert.deepEqual(readFileSync(path), expected);
});

test('a 65-byte header is padded with 7 spaces to 72', () => {
  const path = join(dir, 'attn0.safetensors');
  writeSafetensors(path, { attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: f32(0, 1, 2, 3, 4, 5) } });
  const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
  const expected = Buffer.concat([Buffer.from([72, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(header), f32(0, 1, 2, 3, 4, 5)]);
  assert.deepEqual(readFileSync(path), expected);
});

test('no tensors: "{}" padded to 8; __metadata__ comes first', () => {
  const empty = join(dir, 'empty.safetensors');
  writeSafetensors(empty, {});
  assert.deepEqual(readFileSync(empty), Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from('{}      ')]));
  assert.deepEqual(SafetensorsFile.open(empty).names(), []);

  const withMeta = join(dir, 'meta.safetensors');
  writeSafetensors(
    withMeta,
    { x: { dtype: 'U8', shape: [1], data: new Uint8Array([9]) } },
    { format: 'pt', note: 'héllo "q"' },
  );
  const header =
    '{"__metadata__":{"format":"pt","note":"héllo \\"q\\""},"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
  const padded = header + ' '.repeat(8 - (Buffer.byteLength(header) % 8));
  assert.deepEqual(readFileSync(withMeta), Buffer.from(safetensorsBytes(padded, new Uint8Array([9]))));
  const file = SafetensorsFile.open(withMeta);
  assert.deepEqual({ ...file.metadata }, { format: 'pt', note: 'héllo "q"' });
});

test('tensors are laid out by descending dtype alignment, then by name bytes, each aligned in the file', () => {
  const one = (dtype: SafetensorsDType, size: number): TensorToWrite => ({
    dtype,
    shape: [1],
    data: new Uint8Array(size),
  });
  const path = join(dir, 'order.safetensors');
  writeSafetensors(path, {
    u8b: one('U8', 1),
    u8a: one('U8', 1),
    i64: one('I64', 8),
    bf16: one('BF16', 2),
    f32: one('F32', 4),
    bool: one('BOOL', 1),
    f64: one('F64', 8),
    i32: one('I32', 4),
    i16: one('I16', 2),
    i8: one('I8', 1),
    f16: one('F16', 2),
  });
  const file = SafetensorsFile.open(path);
  assert.deepEqual(file.names(), ['i64', 'f64', 'f32', 'i32', 'bf16', 'f16', 'i16', 'i8', 'u8a', 'u8b', 'bool']);
  const headerLength = Number(readFileSync(path).readBigUInt64LE(0));
  assert.equal(headerLength % 8, 0);
  for (const name of file.names()) {
    const {
      dataOffsets: [begin],
      dtype,
    } = file.info(name);
    const size = { I64: 8, F64: 8, F32: 4, I32: 4, BF16: 2, F16: 2, I16: 2 }[dtype as string] ?? 1;
    assert.equal((8 + headerLength + begin) % size, 0, `${name} is misaligned`);
  }
});

test('names of one dtype are ordered by UTF-8 bytes, as Rust orders strings', () => {
  const path = join(dir, 'names.safetensors');
  const t = (): TensorToWrite => ({ dtype: 'U8', shape: [], data: new Uint8Array(1) });
  // UTF-16 order would put U+1D41A (a surrogate pair, 0xD835...) before U+FFFF; UTF-8 order puts it after (F0 > EF).
  writeSafetensors(path, { z: t(), '\u{1D41A}': t(), b: t(), '\uFFFF': t(), B: t(), é: t() });
  assert.deepEqual(SafetensorsFile.open(path).names(), ['B', 'b', 'z', 'é', '\uFFFF', '\u{1D41A}']);
});

test('write -> read is bit-exact for every dtype, NaN payloads, -0, subnormals, integer extremes, scalars, empty tensors', () => {
  const tensors: Record<string, TensorToWrite> = {
    f64: {
      dtype: 'F64',
      shape: [4],
      data: bytesOf(new BigUint64Array([0x7ff8000000000123n, 0xfff0000000000001n, 0x8000000000000000n, 1n])),
    },
    f32: {
      dtype: 'F32',
      shape: [2, 3],
      data: bytesOf(new Uint32Array([0x7fc00001, 0xff800001, 0x7f800001, 0x80000000, 0x00000001, 0x3f800000])),
    },
    f16: { dtype: 'F16', shape: [5], data: bytesOf(new Uint16Array([0x7e01, 0xfc01, 0x7c01, 0x8000, 0x0001])) },
    bf16: {
      dtype: 'BF16',
      shape: [2, 3],
      data: bytesOf(new Uint16Array([0x7fc1, 0xffff, 0x7f81, 0xff80, 0x8000, 0x3f80])),
    },
    i64: { dtype: 'I64', shape: [3], data: bytesOf(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, -1n])) },
    i32: { dtype: 'I32', shape: [3], data: bytesOf(new Int32Array([-(2 ** 31), 2 ** 31 - 1, -100])) },
    i16: { dtype: 'I16', shape: [3], data: bytesOf(new Int16Array([-32768, 32767, -1])) },
    i8: { dtype: 'I8', shape: [3], data: bytesOf(new Int8Array([-128, 127, -1])) },
    u8: { dtype: 'U8', shape: [3], data: new Uint8Array([0, 255, 128]) },
    bool: { dtype: 'BOOL', shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) },
    scalar: { dtype: 'F32', shape: [], data: f32(-2.5) },
    empty: { dtype: 'BF16', shape: [0, 7], data: new Uint8Array(0) },
  };
  const path = join(dir, 'all-dtypes.safetensors');
  writeSafetensors(path, tensors);
  const file = SafetensorsFile.open(path);
  assert.deepEqual(file.names().sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const raw = file.readRaw(name);
    assert.equal(raw.dtype, t.dtype, name);
    assert.deepEqual(raw.shape, t.shape, name);
    assert.deepEqual(raw.data, t.data, name);
  }
  file.close();
});

test('tensor bytes may be produced lazily, one tensor at a time while writing', () => {
  const produced: string[] = [];
  const lazy = (name: string, value: number): TensorToWrite => ({
    dtype: 'F32',
    shape: [1],
    data: () => {
      produced.push(name);
      return f32(value);
    },
  });
  const path = join(dir, 'lazy.safetensors');
  writeSafetensors(path, { b: lazy('b', 2), a: lazy('a', 1) });
  assert.deepEqual(produced, ['a', 'b']); // in file order, each once
  assert.deepEqual(SafetensorsFile.open(path).readRaw('b').data, f32(2));
});

test('a failed write leaves the previous file intact and no temporary file behind', () => {
  const path = join(dir, 'atomic.safetensors');
  writeSafetensors(path, { w: { dtype: 'F32', shape: [1], data: f32(1) } });
  const before = readFileSync(path);
  const listing = readdirSync(dir).sort();
  assert.throws(
    () =>
      writeSafetensors(path, {
        w: {
          dtype: 'F32',
          shape: [1],
          data: () => {
            throw new Error('device lost');
          },
        },
      }),
    /device lost/,
  );
  assert.throws(
    () => writeSafetensors(path, { w: { dtype: 'F32', shape: [2], data: () => f32(1) } }),
    (err: unknown) =>
      err instanceof SafetensorsError &&
      err.tensor === 'w' &&
      /data is 4 bytes, but F32 \[2\] needs 8/.test(err.message),
  );
  assert.deepEqual(readFileSync(path), before);
  assert.deepEqual(readdirSync(dir).sort(), listing);
});

test('bad tensors to write are refused before anything is written', () => {
  const path = join(dir, 'refused.safetensors');
  const cases: [Record<string, TensorToWrite>, RegExp][] = [
    [{ w: { dtype: 'F32', shape: [2], data: f32(1) } }, /tensor "w": data is 4 bytes, but F32 \[2\] needs 8/],
    [
      { w: { dtype: 'F8' as SafetensorsDType, shape: [1], data: new Uint8Array(1) } },
      /tensor "w": unsupported dtype "F8"/,
    ],
    [{ w: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } }, /tensor "w": shape \[-1\]: dimension 0 is -1/],
    [
      { w: { dtype: 'F32', shape: [1], data: new Float32Array([1]) as unknown as Uint8Array } },
      /tensor "w": data is not a Uint8Array \(a Float32Array\)/,
    ],
    [
      { __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } },
      /tensor "__metadata__": the name is reserved/,
    ],
  ];
  for (const [tensors, message] of cases) assert.throws(() => writeSafetensors(path, tensors), message);
  assert.throws(
    () => writeSafetensors(path, {}, { epoch: 3 } as unknown as Record<string, string>),
    /__metadata__\["epoch"\] must be a string, got number/,
  );
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('refused')),
    [],
  );
});
