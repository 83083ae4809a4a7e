// The safe unpickler on hand-assembled pickles (opcodes and encodings as documented in Python's pickletools):
// what each builds, and that it refuses globals, unknown opcodes and malformed streams with the byte position.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PickleError, PyDict, unpickle } from '../../src/io/pickle.js';
import type { UnpicklerHooks } from '../../src/io/pickle.js';

const refuseAll: UnpicklerHooks = {
  findGlobal: (module, name) => {
    throw new Error(`no globals here (${module}.${name})`);
  },
  persistentLoad: () => {
    throw new Error('no persistent ids here');
  },
};
const run = (bytes: number[] | Uint8Array, hooks = refuseAll) => unpickle(Uint8Array.from(bytes), hooks);
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];

test('pickle.dumps({"a": 1}, protocol=2) builds a dict', () => {
  // \x80\x02 } q\x00 ( X\x01\x00\x00\x00 a q\x01 K\x01 u .
  const d = run([0x80, 2, 0x7d, 0x71, 0, 0x28, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x75, 0x2e]);
  assert.ok(d instanceof PyDict);
  assert.deepEqual([...d.items], [['a', 1]]);
});

test('integers, floats, strings, bytes, None, booleans, tuples, lists and the memo', () => {
  const v = run([
    0x80,
    2,
    0x5d,
    0x71,
    0,
    0x28, // [ memo 0, MARK
    0x4a,
    0xfe,
    0xff,
    0xff,
    0xff, // BININT -2
    0x4d,
    0x34,
    0x12, // BININT2 0x1234
    0x8a,
    9,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0x20,
    0, // LONG1 2^61 + 1 (9 bytes): beyond 2^53, a bigint
    0x8a,
    2,
    0x00,
    0xff, // LONG1 -256
    0x47,
    0x3f,
    0xf8,
    0,
    0,
    0,
    0,
    0,
    0, // BINFLOAT 1.5 (big-endian)
    0x8c,
    2,
    0xc3,
    0xa9, // SHORT_BINUNICODE "é"
    0x55,
    1,
    0xe9, // SHORT_BINSTRING (latin-1) "é"
    0x43,
    2,
    1,
    2, // SHORT_BINBYTES b"\x01\x02"
    0x4e,
    0x88,
    0x89, // None True False
    0x29,
    0x4b,
    7,
    0x85, // () (7,)
    0x68,
    0, // BINGET 0: the list itself
    0x65,
    0x2e, // APPENDS STOP
  ]) as unknown[];
  assert.deepEqual(v.slice(0, 11), [
    -2,
    0x1234,
    2n ** 61n + 1n,
    -256,
    1.5,
    'é',
    'é',
    Uint8Array.from([1, 2]),
    null,
    true,
    false,
  ]);
  assert.deepEqual(v[11], []);
  assert.deepEqual(v[12], [7]);
  assert.ok(Object.isFrozen(v[12]) && !Object.isFrozen(v));
  assert.equal(v[13], v);
});

test('GLOBAL and REDUCE go through findGlobal; the callable gets the argument tuple', () => {
  const calls: unknown[] = [];
  const hooks: UnpicklerHooks = {
    ...refuseAll,
    findGlobal: (module, name) => (args: readonly unknown[]) => {
      calls.push([module, name, args]);
      return 'built';
    },
  };
  const v = run([0x80, 2, ...ascii('cmod.sub\nf\n'), 0x4b, 3, 0x85, 0x52, 0x2e], hooks);
  assert.equal(v, 'built');
  assert.deepEqual(calls, [['mod.sub', 'f', [3]]]);
});

test('a refused global stops the pickle with its position; nothing after it runs', () => {
  assert.throws(
    () => run([0x80, 2, ...ascii('cposix\nsystem\n'), 0x2e]),
    (err: unknown) =>
      err instanceof PickleError && err.position === 2 && /byte 2: no globals here \(posix\.system\)/.test(err.message),
  );
});

test('opcodes outside the subset, truncation and stack misuse are refused with the byte position', () => {
  assert.throws(() => run([0x80, 2, 0x81, 0x2e]), /byte 2: unsupported pickle opcode 0x81/); // NEWOBJ
  assert.throws(() => run([0x80, 2, 0x69]), /byte 2: unsupported pickle opcode 0x69 \("i"\)/); // INST
  assert.throws(() => run([0x80, 2, 0x4a, 1, 2]), /byte 2: opcode 0x4a needs 4 more bytes, but the pickle ends at 5/);
  assert.throws(() => run([0x80, 2, 0x4e]), /byte 3: the pickle ends without STOP/);
  assert.throws(() => run([0x80, 2, 0x2e]), /byte 2: stack underflow/);
  assert.throws(() => run([0x80, 2, 0x4e, 0x28, 0x85, 0x2e]), /byte 4: stack underflow/); // TUPLE1 cannot reach below MARK
  assert.throws(() => run([0x80, 2, 0x68, 5, 0x2e]), /byte 2: memo entry 5 is read before it is written/);
  assert.throws(() => run([0x80, 2, 0x4e, 0x4b, 1, 0x52, 0x2e]), /byte 5: REDUCE calls a None, which is not callable/);
  assert.throws(() => run([0x80, 6, 0x4e, 0x2e]), /byte 0: pickle protocol 6 is newer/);
  assert.throws(() => run([0x80, 2, 0x58, 2, 0, 0, 0, 0xff, 0xfe, 0x2e]), /byte 2: a 2-byte string is not valid UTF-8/);
});
