// Reading is lazy and zip64 works: the fixture is a real torch.save file holding a 4 GiB storage (as in a 7B
// model's shards, which need zip64's 64-bit sizes and offsets), kept as the bytes around that storage's
// all-zero middle. Rebuilt here as a sparse file, it costs no disk space; reading the small tensors after
// the big one must not bring the 4 GiB into memory.

import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TorchBinError, TorchBinFile } from '../../src/io/torch-bin.js';
import { scratchDir } from './helpers.js';
import { dtypeOf, FIXTURES, MANIFEST } from './torch-bin-fixtures.js';

const zip64 = MANIFEST.zip64;
const dir = scratchDir();

function rebuild(name: string): string {
  const head = readFileSync(join(FIXTURES, zip64.head));
  const tail = readFileSync(join(FIXTURES, zip64.tail));
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  writeSync(fd, head, 0, head.length, 0);
  ftruncateSync(fd, zip64.size); // the storage's zeros are a hole
  writeSync(fd, tail, 0, tail.length, zip64.size - tail.length);
  closeSync(fd);
  return path;
}

test('a zip64 torch.save file over 4 GiB: tensors before and after the 4 GiB offset read without the rest', () => {
  const path = rebuild('zip64.bin');
  const rssBefore = process.memoryUsage().rss;
  const file = TorchBinFile.open(path);
  assert.deepEqual(
    file.names(),
    zip64.tensors.map((t) => t.name),
  );
  for (const { name, dtype, shape } of zip64.tensors) {
    const info = file.info(name);
    assert.deepEqual([info.dtype, info.shape], [dtypeOf(dtype), shape], name);
  }
  assert.equal(file.info('big').shape[0], 2 ** 32 + 64);
  // big_tail views the last 64 bytes of the 4 GiB storage; "after" is the next entry, past the 4 GiB offset.
  assert.deepEqual(file.info('big_tail').storageOffset, 2 ** 32);
  assert.deepEqual(file.readRaw('big_tail').data, Uint8Array.from(zip64.big_tail));
  assert.deepEqual(file.readRaw('after'), { dtype: 'F32', shape: [3], data: Uint8Array.from(zip64.after) });
  assert.deepEqual([...new Float32Array(Uint8Array.from(zip64.after).buffer)], [1.5, -2, 3.25]);
  file.close();
  const grownMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(grownMiB < 64, `resident memory grew by ${grownMiB.toFixed(0)} MiB`);
});

test('the zip64 file cut short (end records lost) is refused', () => {
  const path = rebuild('zip64-cut.bin');
  truncateSync(path, zip64.size - 30);
  assert.throws(
    () => TorchBinFile.open(path),
    (err: unknown) => err instanceof TorchBinError && /not a readable torch\.save zip archive/.test(err.message),
  );
});
