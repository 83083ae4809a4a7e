// Bad .bin files: each is refused with a TorchBinError that names the file, and the tensor where one is to blame.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTorchBin, TorchBinError, TorchBinFile } from '../../src/io/torch-bin.js';
import { ShardedTorchBin } from '../../src/io/torch-bin-sharded.js';
import { scratchDir, writeBytes } from './helpers.js';
import { FIXTURES } from './torch-bin-fixtures.js';

const dir = scratchDir();

function assertRefused(path: string, pattern: RegExp, tensor?: string): void {
  assert.throws(
    () => readTorchBin(path),
    (err: unknown) => {
      assert.ok(err instanceof TorchBinError, `expected a TorchBinError, got ${String(err)}`);
      assert.equal(err.file, path);
      assert.equal(err.tensor, tensor);
      assert.ok(err.message.startsWith(`${path}: `), err.message);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

/** A zip of stored entries built byte by byte (CRCs left 0: the reader does not check them). */
function storedZip(entries: Record<string, Uint8Array | string>): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(entries)) {
    const data = Buffer.from(content);
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt32LE(data.length, 20);
    entry.writeUInt32LE(data.length, 24);
    entry.writeUInt16LE(nameBytes.length, 28);
    entry.writeUInt32LE(offset, 42);
    parts.push(local, nameBytes, data);
    central.push(entry, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}

// Protocol-2 pickles assembled by hand (opcodes as in Python's pickletools).
const str = (s: string) => {
  const b = Buffer.from(s);
  const n = Buffer.alloc(5);
  n[0] = 0x58;
  n.writeUInt32LE(b.length, 1);
  return Buffer.concat([n, b]);
};
const global = (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`, 'latin1');
const op = (...bytes: number[]) => Buffer.from(bytes);
/** _rebuild_tensor_v2(('storage', torch.<type>, '0', 'cpu', 4), 0, (4,), (1,), False, OrderedDict()). */
const tensorPickle = (storageType: string) =>
  Buffer.concat([
    global('torch._utils', '_rebuild_tensor_v2'),
    op(0x28, 0x28),
    str('storage'),
    global('torch', storageType),
    str('0'),
    str('cpu'),
    op(0x4b, 4, 0x74, 0x51, 0x4b, 0, 0x4b, 4, 0x85, 0x4b, 1, 0x85, 0x89),
    global('collections', 'OrderedDict'),
    op(0x29, 0x52, 0x74, 0x52),
  ]);
const stateDict = (...items: Buffer[]) => Buffer.concat([op(0x80, 2, 0x7d, 0x28), ...items, op(0x75, 0x2e)]);

test('the legacy (pre-1.6) format is recognised and the message says how to convert it', () => {
  assertRefused(
    join(FIXTURES, 'legacy.bin'),
    /legacy torch\.save format \(PyTorch < 1\.6.*re-save it once with PyTorch >= 1\.6/,
  );
});

test('a global outside the allow-list (os.system in the fixture) is refused by name, never called', () => {
  assertRefused(
    join(FIXTURES, 'unknown_global.bin'),
    /unknown_global\/data\.pkl: byte 175: refusing the global posix\.system/,
  );
});

test('a storage whose data entry is missing names the tensor and the entry', () => {
  assertRefused(join(FIXTURES, 'missing_entry.bin'), /its storage "1" has no data entry "views\/data\/1"/, 'expanded');
});

test('a storage too small for a view names the tensor, its view and the storage size', () => {
  assertRefused(
    join(FIXTURES, 'storage_too_small.bin'),
    /its view \(offset 0, size \[6,4\], stride \[1,6\]\) reaches element 23 of storage "0", which holds 10 F32 elements \(40 bytes\): storage too small/,
    'transposed',
  );
});

test('files that are not zips: text, a safetensors file, an empty file', () => {
  const notZip =
    /not a readable torch\.save zip archive: no zip end-of-central-directory record .*not a zip archive, or truncated/;
  assertRefused(writeBytes(dir, 'text.bin', Buffer.from('hello, this is not a checkpoint\n')), notZip);
  assertRefused(writeBytes(dir, 'empty.bin', new Uint8Array(0)), notZip);
  assertRefused(
    writeBytes(dir, 'st.bin', Buffer.from('\x10\x00\x00\x00\x00\x00\x00\x00{"__metadata__":{}}', 'latin1')),
    notZip,
  );
});

test('every truncation of a torch.save file is refused with a TorchBinError naming it', () => {
  const whole = readFileSync(join(FIXTURES, 'views.bin'));
  for (let length = 0; length < whole.length; length++) {
    const path = writeBytes(dir, 'truncated.bin', whole.subarray(0, length));
    assert.throws(
      () => readTorchBin(path),
      (err: unknown) => err instanceof TorchBinError && err.file === path,
      `cut at ${length} bytes`,
    );
  }
});

test('a directory that points past the end of the file (bytes cut from the middle) is refused', () => {
  const whole = readFileSync(join(FIXTURES, 'views.bin'));
  const path = writeBytes(dir, 'cut.bin', Buffer.concat([whole.subarray(0, 600), whole.subarray(700)]));
  assertRefused(path, /not a readable torch\.save zip archive: .*(corrupt|truncated|out of range)/);
});

test('a zip that is not a torch.save file, and a TorchScript archive, are told apart', () => {
  assertRefused(
    writeBytes(dir, 'other.zip', storedZip({ 'readme.txt': 'hi' })),
    /no <archive>\/data\.pkl entry, so not a torch\.save file \(entries: readme\.txt\)/,
  );
  assertRefused(
    writeBytes(dir, 'script.pt', storedZip({ 'm/data.pkl': '', 'm/constants.pkl': '' })),
    /TorchScript archive \(torch\.jit\.save\)/,
  );
});

test('a state dict value that is not a tensor, and an unsupported storage dtype, are named', () => {
  const withInt = storedZip({
    'archive/data.pkl': stateDict(str('w'), tensorPickle('FloatStorage'), str('step'), op(0x4b, 7)),
    'archive/data/0': new Uint8Array(16),
  });
  assertRefused(writeBytes(dir, 'with-int.bin', withInt), /the value is a number, not a tensor/, 'step');
  const complex = storedZip({
    'archive/data.pkl': stateDict(str('w'), tensorPickle('ComplexFloatStorage')),
    'archive/data/0': new Uint8Array(32),
  });
  assertRefused(writeBytes(dir, 'complex.bin', complex), /storages of torch\.ComplexFloatStorage are not supported/);
  // The same hand-built file with a supported storage reads, so the two refusals above are about what they say.
  const ok = storedZip({
    'archive/data.pkl': stateDict(str('w'), tensorPickle('IntStorage')),
    'archive/data/0': new Uint8Array(new Int32Array([1, -2, 3, 4]).buffer),
  });
  assert.deepEqual(readTorchBin(writeBytes(dir, 'ok.bin', ok)).get('w'), {
    dtype: 'I32',
    shape: [4],
    data: new Uint8Array(new Int32Array([1, -2, 3, 4]).buffer),
  });
});

test('a truncated data.pkl is refused with the entry and byte position', () => {
  const pickle = stateDict(str('w'), tensorPickle('FloatStorage'));
  const path = writeBytes(
    dir,
    'short-pkl.bin',
    storedZip({ 'archive/data.pkl': pickle.subarray(0, 40), 'archive/data/0': new Uint8Array(16) }),
  );
  assertRefused(path, /archive\/data\.pkl: byte \d+: .*truncated/);
});

test('asking for a tensor the file does not have names it', () => {
  const file = TorchBinFile.open(join(FIXTURES, 'views.bin'));
  assert.throws(() => file.readRaw('nope'), /views\.bin: tensor "nope": no such tensor \(the file has 11\)/);
  file.close();
  assert.throws(() => file.readRaw('base'), /after close\(\)/);
});

test('a sharded index naming a missing shard, or a tensor its shard lacks, is refused', () => {
  const index = (weightMap: Record<string, string>) =>
    Buffer.from(JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const missing = writeBytes(dir, 'missing.index.json', index({ a: 'pytorch_model-00009-of-00009.bin' }));
  assert.throws(
    () => ShardedTorchBin.open(missing),
    /weight_map names shard "pytorch_model-00009-of-00009\.bin" \(for "a"\), but .* does not exist/,
  );
  writeBytes(dir, 'views.bin', readFileSync(join(FIXTURES, 'views.bin')));
  const sharded = ShardedTorchBin.open(writeBytes(dir, 'wrong.index.json', index({ ghost: 'views.bin' })));
  assert.throws(
    () => sharded.readRaw('ghost'),
    /tensor "ghost": weight_map puts it in "views\.bin", but that shard has no such tensor/,
  );
  sharded.close();
});

test('any single corrupted byte either still reads or is a TorchBinError (never a crash of another kind)', () => {
  const whole = readFileSync(join(FIXTURES, 'views.bin'));
  for (let i = 0; i < whole.length; i++) {
    const bytes = Buffer.from(whole);
    bytes[i] ^= 0xff;
    const path = writeBytes(dir, 'corrupt.bin', bytes);
    try {
      readTorchBin(path);
    } catch (err) {
      assert.ok(err instanceof TorchBinError && err.file === path, `byte ${i}: ${String(err)}`);
    }
  }
});
