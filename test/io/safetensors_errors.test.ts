// Every kind of malformed safetensors file gets its own readable error naming the file and (where one is to
// blame) the tensor; never a crash or a wrong tensor. Each file is built from bytes written here.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SafetensorsError, SafetensorsFile } from '../../src/io/safetensors.js';
import { f32, safetensorsBytes, scratchDir, writeBytes } from './helpers.js';

const dir = scratchDir();
let counter = 0;

/** Opening (and reading every tensor of) `bytes` must fail with a SafetensorsError matching `message`. */
function assertRejected(bytes: Uint8Array, message: RegExp, tensor?: string): void {
  const path = writeBytes(dir, `bad-${counter++}.safetensors`, bytes);
  assert.throws(
    () => {
      const file = SafetensorsFile.open(path);
      for (const name of file.names()) file.readRaw(name);
    },
    (err: unknown) => {
      assert.ok(err instanceof SafetensorsError, `expected a SafetensorsError, got ${String(err)}`);
      assert.equal(err.file, path);
      assert.equal(err.tensor, tensor);
      assert.ok(err.message.startsWith(`${path}: `), err.message);
      if (tensor !== undefined) assert.ok(err.message.includes(`tensor "${tensor}"`), err.message);
      assert.match(err.message, message);
      return true;
    },
  );
}

const entry = (name: string, dtype: string, shape: number[], begin: number, end: number) =>
  `"${name}":{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[${begin},${end}]}`;

test('a file shorter than the 8-byte length field', () => {
  assertRejected(new Uint8Array([5, 0, 0]), /file is 3 bytes, too short.*truncated/);
  assertRejected(new Uint8Array(0), /file is 0 bytes/);
});

test('a header length past the end of the file', () => {
  const good = safetensorsBytes(`{${entry('w', 'F32', [2], 0, 8)}}`, f32(1, 2));
  const lying = Buffer.from(good);
  lying.writeBigUInt64LE(BigInt(good.byteLength), 0); // claims more header than the whole file
  assertRejected(
    lying,
    new RegExp(`header length ${good.byteLength} runs past the end of the file \\(${good.byteLength} bytes`),
  );
  const huge = Buffer.from(good);
  huge.writeBigUInt64LE(2n ** 64n - 1n, 0);
  assertRejected(huge, /header length 18446744073709551615 runs past the end/);
});

test('a header that is not UTF-8 or not JSON', () => {
  assertRejected(
    safetensorsBytes('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]'),
    /header is not valid JSON/,
  );
  assertRejected(safetensorsBytes('not json at all'), /header is not valid JSON.*it starts "not json at all"/);
  const invalidUtf8 = safetensorsBytes('{"ab":1}');
  invalidUtf8[10] = 0xff;
  assertRejected(invalidUtf8, /header is not valid UTF-8/);
});

test('a header that is JSON but not an object', () => {
  assertRejected(safetensorsBytes('[1, 2, 3]'), /header must be a JSON object, got array/);
  assertRejected(safetensorsBytes('null'), /header must be a JSON object, got null/);
  assertRejected(safetensorsBytes('"w"'), /header must be a JSON object, got string "w"/);
});

test('a tensor entry that is not {dtype, shape, data_offsets}', () => {
  assertRejected(safetensorsBytes('{"w":[1,2]}'), /entry must be an object with dtype, shape and data_offsets/, 'w');
  assertRejected(
    safetensorsBytes('{"w":{"shape":[1],"data_offsets":[0,4]}}', f32(1)),
    /dtype must be a string, got nothing/,
    'w',
  );
  assertRejected(safetensorsBytes('{"w":{"dtype":"F32","data_offsets":[0,4]}}', f32(1)), /shape must be an array/, 'w');
  assertRejected(
    safetensorsBytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', f32(1)),
    /data_offsets must be \[begin, end\]/,
    'w',
  );
  assertRejected(
    safetensorsBytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}}', f32(1)),
    /must be non-negative integers/,
    'w',
  );
});

test('__metadata__ that is not an object of strings', () => {
  assertRejected(
    safetensorsBytes(`{"__metadata__":{"format":1},${entry('w', 'F32', [1], 0, 4)}}`, f32(1)),
    /__metadata__\["format"\] must be a string, got number 1/,
  );
  assertRejected(
    safetensorsBytes(`{"__metadata__":"pt",${entry('w', 'F32', [1], 0, 4)}}`, f32(1)),
    /__metadata__ must be an object of strings/,
  );
});

test('an unknown dtype, and a valid safetensors dtype that is not supported', () => {
  assertRejected(
    safetensorsBytes(`{${entry('w', 'F31', [1], 0, 4)}}`, f32(1)),
    /unknown dtype "F31" \(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL\)/,
    'w',
  );
  assertRejected(
    safetensorsBytes(`{${entry('w', 'U32', [1], 0, 4)}}`, f32(1)),
    /dtype U32 is valid safetensors but not supported here/,
    'w',
  );
  assertRejected(safetensorsBytes(`{${entry('w', 'f32', [1], 0, 4)}}`, f32(1)), /unknown dtype "f32"/, 'w');
});

test('a negative or non-integer dimension', () => {
  assertRejected(
    safetensorsBytes(`{${entry('w', 'F32', [2, -1], 0, 0)}}`),
    /shape \[2,-1\]: dimension 1 is -1, not a non-negative integer/,
    'w',
  );
  assertRejected(
    safetensorsBytes(`{${entry('w', 'F32', [1.5], 0, 6)}}`, new Uint8Array(6)),
    /dimension 0 is 1.5, not a non-negative integer/,
    'w',
  );
  assertRejected(
    safetensorsBytes('{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}', f32(1, 2)),
    /dimension 0 is "2"/,
    'w',
  );
  assertRejected(safetensorsBytes(`{${entry('w', 'U8', [2 ** 40, 2 ** 40], 0, 0)}}`), /too large to address/, 'w');
});

test('a shape that does not match its byte size', () => {
  // [2, 3] of F32 is 24 bytes; the offsets give 20.
  assertRejected(
    safetensorsBytes(`{${entry('w', 'F32', [2, 3], 0, 20)}}`, new Uint8Array(20)),
    /shape \[2,3\] of F32 needs 24 bytes, but data_offsets \[0, 20\] span 20/,
    'w',
  );
  // ... and more bytes than the shape needs is as wrong as fewer.
  assertRejected(
    safetensorsBytes(`{${entry('w', 'F32', [2], 0, 12)}}`, new Uint8Array(12)),
    /shape \[2\] of F32 needs 8 bytes, but data_offsets \[0, 12\] span 12/,
    'w',
  );
  // A scalar ([]) is one element: 8 bytes of I64, not 0.
  assertRejected(
    safetensorsBytes(`{${entry('s', 'I64', [], 0, 0)}}`),
    /shape \[\] of I64 needs 8 bytes, but data_offsets \[0, 0\] span 0/,
    's',
  );
});

test('out-of-range offsets and a truncated data area', () => {
  assertRejected(
    safetensorsBytes(`{${entry('w', 'F32', [2], 0, 8)}}`, f32(1)),
    /data_offsets \[0, 8\] run past the end of the data area \(4 bytes\): file truncated/,
    'w',
  );
  assertRejected(
    safetensorsBytes(`{${entry('w', 'F32', [1], 8, 4)}}`, f32(1, 2)),
    /data_offsets \[8, 4\] end before they begin/,
    'w',
  );
  assertRejected(
    safetensorsBytes(`{${entry('w', 'F32', [1], -4, 0)}}`, f32(1)),
    /data_offsets \[-4,0\] must be non-negative integers/,
    'w',
  );
  // A whole file cut short after the header: the last tensor is the one that runs out.
  const full = safetensorsBytes(`{${entry('a', 'F32', [2], 0, 8)},${entry('b', 'F32', [2], 8, 16)}}`, f32(1, 2, 3, 4));
  assertRejected(
    full.subarray(0, full.byteLength - 3),
    /data_offsets \[8, 16\] run past the end of the data area \(13 bytes\)/,
    'b',
  );
});

test('overlapping offsets', () => {
  const header = `{${entry('a', 'F32', [2], 0, 8)},${entry('b', 'F32', [2], 4, 12)}}`;
  assertRejected(
    safetensorsBytes(header, new Uint8Array(12)),
    /data_offsets \[4, 12\] overlap tensor "a", which ends at 8/,
    'b',
  );
  // Two names for the same bytes.
  const alias = `{${entry('a', 'F32', [2], 0, 8)},${entry('b', 'F32', [2], 0, 8)}}`;
  assertRejected(safetensorsBytes(alias, new Uint8Array(8)), /overlap tensor "a", which ends at 8/, 'b');
});

test('offsets that leave a gap, start late, or do not cover the data area', () => {
  const gap = `{${entry('a', 'F32', [1], 0, 4)},${entry('b', 'F32', [1], 8, 12)}}`;
  assertRejected(
    safetensorsBytes(gap, new Uint8Array(12)),
    /leave a gap of 4 bytes after tensor "a" \(which ends at 4\)/,
    'b',
  );
  const late = `{${entry('a', 'F32', [1], 4, 8)}}`;
  assertRejected(
    safetensorsBytes(late, new Uint8Array(8)),
    /leave a gap of 4 bytes after the start of the data area/,
    'a',
  );
  const trailing = `{${entry('a', 'F32', [1], 0, 4)}}`;
  assertRejected(
    safetensorsBytes(trailing, new Uint8Array(10)),
    /data area is 10 bytes but the last tensor \("a"\) ends at 4: 6 trailing bytes not covered/,
  );
  assertRejected(safetensorsBytes('{}', new Uint8Array(3)), /data area is 3 bytes but no tensors: 3 trailing bytes/);
});

test('asking for a tensor the file does not have, or reading after close()', () => {
  const path = writeBytes(dir, 'one.safetensors', safetensorsBytes(`{${entry('w', 'F32', [1], 0, 4)}}`, f32(7)));
  const file = SafetensorsFile.open(path);
  assert.throws(() => file.readRaw('v'), /one\.safetensors: tensor "v": no such tensor \(the file has 1\)/);
  file.close();
  assert.throws(() => file.readRaw('w'), /tensor "w": read after close\(\)/);
});

test('a missing file is the operating system error, naming the path', () => {
  assert.throws(
    () => SafetensorsFile.open(`${dir}/absent.safetensors`),
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && err.message.includes('absent.safetensors'),
  );
});
