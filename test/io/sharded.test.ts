// Sharded checkpoints as transformers' save_pretrained writes them: the split by max shard size, the file
// names, the index text (json.dumps(indent=2, sort_keys=True)), reading back through the index, and errors.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsError, SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import type { TensorToWrite } from '../../src/io/safetensors.js';
import { parseShardSize, ShardedSafetensors, writeShardedSafetensors } from '../../src/io/sharded.js';
import { f32, scratchDir } from './helpers.js';

const root = scratchDir();

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

// Insertion order differs from name order on purpose: shards follow insertion order, the index is sorted.
const tensors: Record<string, TensorToWrite> = {
  'z.weight': { dtype: 'F32', shape: [2, 5], data: bytes(40, 1) },
  'y.bias': { dtype: 'F32', shape: [6], data: bytes(24, 2) },
  x: { dtype: 'I64', shape: [4], data: bytes(32, 3) },
  emb: { dtype: 'U8', shape: [10, 10], data: bytes(100, 4) },
  é: { dtype: 'BF16', shape: [3], data: bytes(6, 5) },
};

test('split at 64 bytes: a shard closes when the next tensor would overflow it; an oversized tensor gets its own', () => {
  const dir = join(root, 'split');
  // z 40 -> shard 1; y 40+24=64 fits exactly -> shard 1; x 64+32>64 -> shard 2; emb 100 -> shard 3 alone; é 100+6>64 -> shard 4.
  const files = writeShardedSafetensors(dir, tensors, { maxShardSize: 64 });
  const shard = (i: number) => `model-0000${i}-of-00004.safetensors`;
  assert.deepEqual(files, [shard(1), shard(2), shard(3), shard(4), 'model.safetensors.index.json']);
  assert.deepEqual(readdirSync(dir).sort(), [...files].sort());
  assert.equal(
    readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'),
    `{
  "metadata": {
    "total_size": 202
  },
  "weight_map": {
    "emb": "model-00003-of-00004.safetensors",
    "x": "model-00002-of-00004.safetensors",
    "y.bias": "model-00001-of-00004.safetensors",
    "z.weight": "model-00001-of-00004.safetensors",
    "\\u00e9": "model-00004-of-00004.safetensors"
  }
}
`,
  );
  const first = SafetensorsFile.open(join(dir, shard(1)));
  assert.deepEqual(first.names(), ['y.bias', 'z.weight']);
  assert.deepEqual({ ...first.metadata }, { format: 'pt' });
});

test('sharded write -> read gives the same tensors', () => {
  const dir = join(root, 'roundtrip');
  writeShardedSafetensors(dir, tensors, { maxShardSize: 64 });
  const sharded = ShardedSafetensors.open(join(dir, 'model.safetensors.index.json'));
  assert.deepEqual(sharded.names(), ['emb', 'x', 'y.bias', 'z.weight', 'é']);
  assert.deepEqual(sharded.metadata, { total_size: 202 });
  for (const [name, t] of Object.entries(tensors)) {
    assert.deepEqual(sharded.readRaw(name), { dtype: t.dtype, shape: t.shape, data: t.data }, name);
  }
  sharded.close();
});

test('one shard is a single model.safetensors with no index; a later save removes the stale files of an earlier one', () => {
  const dir = join(root, 'resave');
  writeShardedSafetensors(dir, tensors, { maxShardSize: 64 });
  writeFileSync(join(dir, 'config.json'), '{}');
  assert.deepEqual(writeShardedSafetensors(dir, tensors), ['model.safetensors']); // default 5GB
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
  const single = SafetensorsFile.open(join(dir, 'model.safetensors'));
  assert.deepEqual(single.names(), ['x', 'y.bias', 'z.weight', 'é', 'emb']); // I64, F32, BF16, U8: the reference order
  assert.deepEqual(single.readRaw('emb').data, tensors.emb.data);

  writeShardedSafetensors(dir, tensors, { maxShardSize: 100 }); // z+y+x = 96 | emb | é
  assert.deepEqual(readdirSync(dir).sort(), [
    'config.json',
    'model-00001-of-00003.safetensors',
    'model-00002-of-00003.safetensors',
    'model-00003-of-00003.safetensors',
    'model.safetensors.index.json',
  ]);
});

test('max shard sizes are read as transformers reads them', () => {
  assert.equal(parseShardSize('5GB'), 5_000_000_000);
  assert.equal(parseShardSize('10GiB'), 10 * 1024 ** 3);
  assert.equal(parseShardSize('500MB'), 500_000_000);
  assert.equal(parseShardSize('2MiB'), 2 * 1024 ** 2);
  assert.equal(parseShardSize('100KB'), 100_000);
  assert.equal(parseShardSize('3kib'), 3072);
  assert.equal(parseShardSize('8Gb'), 1_000_000_000); // lower-case b: bits
  assert.equal(parseShardSize(1234), 1234);
  for (const bad of ['1.5GB', '5 GB', 'GB', '5TB', ''])
    assert.throws(() => parseShardSize(bad), /is not an integer followed by a unit/, bad);
  for (const bad of [0, -1, 2.5])
    assert.throws(() => parseShardSize(bad), /must be a positive integer number of bytes/);
});

test('a bad tensor is refused before any shard is written', () => {
  const dir = join(root, 'refused');
  const bad = { ...tensors, w: { dtype: 'F32', shape: [3], data: f32(1) } } as Record<string, TensorToWrite>;
  assert.throws(
    () => writeShardedSafetensors(dir, bad, { maxShardSize: 64 }),
    /tensor "w": data is 4 bytes, but F32 \[3\] needs 12/,
  );
  assert.equal(existsSync(dir), false);
});

/** A two-shard checkpoint written by hand: shard 1 holds a, shard 2 holds b. */
function handWritten(name: string, index: unknown): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeSafetensors(
    join(dir, 'model-00001-of-00002.safetensors'),
    { a: { dtype: 'F32', shape: [1], data: f32(1) } },
    { format: 'pt' },
  );
  writeSafetensors(
    join(dir, 'model-00002-of-00002.safetensors'),
    { b: { dtype: 'F32', shape: [1], data: f32(2) } },
    { format: 'pt' },
  );
  const path = join(dir, 'model.safetensors.index.json');
  writeFileSync(path, typeof index === 'string' ? index : JSON.stringify(index));
  return path;
}

const shard1 = 'model-00001-of-00002.safetensors';
const shard2 = 'model-00002-of-00002.safetensors';

test('an index naming a missing shard fails on open, naming index, shard and a tensor', () => {
  const path = handWritten('missing', {
    metadata: {},
    weight_map: { a: shard1, b: 'model-00003-of-00002.safetensors', c: 'model-00003-of-00002.safetensors' },
  });
  assert.throws(
    () => ShardedSafetensors.open(path),
    (err: unknown) =>
      err instanceof SafetensorsError &&
      err.file === path &&
      /weight_map names shard "model-00003-of-00002.safetensors" \(for "b" and 1 more\), but .*model-00003-of-00002.safetensors does not exist/.test(
        err.message,
      ),
  );
});

test('a tensor absent from its shard is an error naming index, shard and tensor', () => {
  const path = handWritten('absent', { weight_map: { a: shard1, b: shard1 } });
  const sharded = ShardedSafetensors.open(path);
  assert.deepEqual(sharded.readRaw('a').data, f32(1));
  assert.throws(
    () => sharded.readRaw('b'),
    (err: unknown) =>
      err instanceof SafetensorsError &&
      err.file === path &&
      err.tensor === 'b' &&
      err.message.includes(`weight_map puts it in "${shard1}", but that shard has no such tensor`),
  );
  assert.throws(() => sharded.info('c'), /tensor "c": no such tensor in weight_map \(it has 2\)/);
});

test('shards open lazily: a corrupt shard fails only when one of its tensors is read, naming that shard', () => {
  const path = handWritten('lazy', { weight_map: { a: shard1, b: shard2 } });
  writeFileSync(join(root, 'lazy', shard2), Buffer.from('garbage!garbage!'));
  const sharded = ShardedSafetensors.open(path);
  assert.deepEqual(sharded.readRaw('a').data, f32(1));
  assert.throws(
    () => sharded.readRaw('b'),
    (err: unknown) => err instanceof SafetensorsError && err.file === join(root, 'lazy', shard2),
  );
});

test('an index that is not JSON, not an object, or has no proper weight_map', () => {
  const cases: [string, unknown, RegExp][] = [
    ['notjson', '{"weight_map": {', /model\.safetensors\.index\.json: not valid JSON/],
    ['array', [1, 2], /index must be a JSON object with "weight_map"/],
    ['nomap', { metadata: { total_size: 8 } }, /"weight_map" must be an object of tensor name -> shard file/],
    ['badmeta', { metadata: 5, weight_map: {} }, /"metadata" must be an object/],
    [
      'badfile',
      { weight_map: { a: 7 } },
      /tensor "a": weight_map entry must name a shard file inside the index's directory, got 7/,
    ],
    [
      'escape',
      { weight_map: { a: '../model-00001-of-00002.safetensors' } },
      /tensor "a": weight_map entry must name a shard file inside/,
    ],
  ];
  for (const [name, index, message] of cases) {
    const path = handWritten(name, index);
    assert.throws(
      () => ShardedSafetensors.open(path),
      (err: unknown) => err instanceof SafetensorsError && err.file === path && message.test(err.message),
      name,
    );
  }
});
