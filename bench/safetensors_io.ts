// safetensors throughput and memory: write a checkpoint (single file and sharded), open it (header only),
// read every tensor raw and as Tensors. Peak resident memory shows that reading holds one tensor at a time.
// Usage: node dist/bench/safetensors_io.js [total MiB, default 1024] [tensor MiB, default 32]
// Reads come from the page cache right after writing: they measure this code, not the disk.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../src/io/safetensors.js';
import { ShardedSafetensors, writeShardedSafetensors } from '../src/io/sharded.js';
import { openSafetensors } from '../src/io/tensors.js';
import { measureIo } from './report.js';

const totalMiB = Number(process.argv[2] ?? 1024);
const tensorMiB = Number(process.argv[3] ?? 32);
const count = Math.max(1, Math.floor(totalMiB / tensorMiB));
const dir = mkdtempSync(join(tmpdir(), 'llava-bench-io-'));

// Tensor bytes are made on demand, so the writer never holds more than one.
const tensors: Record<string, TensorToWrite> = {};
for (let i = 0; i < count; i++) {
  const dtype = i % 2 === 0 ? 'F32' : 'BF16';
  const elements = (tensorMiB * 2 ** 20) / (dtype === 'F32' ? 4 : 2);
  tensors[`model.layers.${i}.weight`] = {
    dtype,
    shape: [elements / 1024, 1024],
    data: () => new Uint8Array(tensorMiB * 2 ** 20).fill(i),
  };
}
const bytes = count * tensorMiB * 2 ** 20;

const measure = (name: string, work: () => void, volume = bytes) => measureIo(name, work, volume);

const single = join(dir, 'model.safetensors');
const sharded = join(dir, 'sharded');
const rows = [
  measure('write single file', () => writeSafetensors(single, tensors, { format: 'pt' })),
  measure('write sharded (256MB shards)', () => writeShardedSafetensors(sharded, tensors, { maxShardSize: '256MB' })),
  measure('open (header only)', () => SafetensorsFile.open(single).close(), 0),
  measure('read all raw, one at a time', () => {
    const f = SafetensorsFile.open(single);
    for (const n of f.names()) f.readRaw(n);
    f.close();
  }),
  measure('read all raw through the index', () => {
    const f = ShardedSafetensors.open(join(sharded, 'model.safetensors.index.json'));
    for (const n of f.names()) f.readRaw(n);
    f.close();
  }),
  measure('read all as Tensors', () => {
    const r = openSafetensors(single);
    for (const n of r.names()) r.readTensor(n).dispose();
    r.close();
  }),
];
rmSync(dir, { recursive: true, force: true });

const config = { total_MiB: count * tensorMiB, tensors: count, tensor_MiB: tensorMiB };
for (const row of rows) console.log(JSON.stringify({ bench: 'safetensors_io', ...config, ...row }));
console.table(rows);
