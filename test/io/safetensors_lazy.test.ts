// Reading is lazy: opening reads the header only and readRaw reads only the requested tensor's bytes. The
// file here is 3 GB (sparse on disk, so it costs no space): larger than Node can read whole (readFile stops
// at 2 GiB), and larger than the memory the reads are allowed to take.

import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { f32, safetensorsBytes, scratchDir } from './helpers.js';

test('a small tensor reads from a 3 GB file without the rest of the file entering memory', () => {
  const big = 3_000_000_000;
  const header = `{"big":{"dtype":"U8","shape":[${big}],"data_offsets":[0,${big}]},"small":{"dtype":"F32","shape":[2],"data_offsets":[${big},${big + 8}]}}`;
  const head = safetensorsBytes(header);
  const path = join(scratchDir(), 'huge.safetensors');
  const fd = openSync(path, 'w');
  writeSync(fd, head);
  ftruncateSync(fd, head.byteLength + big + 8); // the 3 GB of "big" are a hole
  writeSync(fd, f32(1.5, -2), 0, 8, head.byteLength + big);
  closeSync(fd);

  const rssBefore = process.memoryUsage().rss;
  const file = SafetensorsFile.open(path);
  assert.deepEqual(file.info('big'), { dtype: 'U8', shape: [big], dataOffsets: [0, big] });
  const small = file.readRaw('small');
  assert.deepEqual(small, { dtype: 'F32', shape: [2], data: f32(1.5, -2) });
  file.close();
  const grownMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(grownMiB < 64, `resident memory grew by ${grownMiB.toFixed(0)} MiB`);
});
