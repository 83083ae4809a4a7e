// .bin (torch.save) read throughput and memory: open (zip directory + data.pkl), read every tensor raw and as
// Tensors one at a time, and a non-contiguous view (gathered element rows). PyTorch's own torch.load of the
// same file is timed for reference. The file is written by Debian's python3-torch (/usr/bin/python3).
// Usage: node dist/bench/torch_bin_io.js [total MiB, default 1024] [tensor MiB, default 32]
// Reads come from the page cache right after writing: they measure this code, not the disk.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TorchBinFile } from '../src/io/torch-bin.js';
import { openTorchBin } from '../src/io/torch-bin-tensors.js';
import { measureIo } from './report.js';

const totalMiB = Number(process.argv[2] ?? 1024);
const tensorMiB = Number(process.argv[3] ?? 32);
const count = Math.max(1, Math.floor(totalMiB / tensorMiB));
const dir = mkdtempSync(join(tmpdir(), 'llava-bench-bin-'));
const path = join(dir, 'pytorch_model.bin');

// Alternating f32 and bf16 tensors of tensorMiB each, [elements / 1024, 1024], plus "transposed": a
// transposed view of the last one (same storage, strides swapped).
const python = `
import sys, time, torch
count, mib, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sd = {}
for i in range(count):
    dtype = torch.float32 if i % 2 == 0 else torch.bfloat16
    n = mib * 2**20 // (4 if dtype == torch.float32 else 2)
    sd[f'model.layers.{i}.weight'] = torch.full((n // 1024, 1024), float(i), dtype=dtype)
sd['transposed'] = sd[f'model.layers.{count - 1}.weight'].t()
torch.save(sd, path)
t0 = time.perf_counter(); torch.load(path); print(time.perf_counter() - t0)
`;
const made = spawnSync('/usr/bin/python3', ['-c', python, String(count), String(tensorMiB), path], {
  encoding: 'utf8',
});
if (made.status !== 0) throw new Error(`writing the checkpoint with /usr/bin/python3 failed:\n${made.stderr}`);
const torchLoadSeconds = Number(made.stdout.trim());
const bytes = count * tensorMiB * 2 ** 20;

const measure = (name: string, work: () => void, volume = bytes) => measureIo(name, work, volume);

const layers = Array.from({ length: count }, (_, i) => `model.layers.${i}.weight`);
const rows = [
  measure('open (zip directory + data.pkl)', () => TorchBinFile.open(path).close(), 0),
  measure('read all raw, one at a time', () => {
    const f = TorchBinFile.open(path);
    for (const n of layers) f.readRaw(n);
    f.close();
  }),
  measure('read all as Tensors', () => {
    const r = openTorchBin(path);
    for (const n of layers) r.readTensor(n).dispose();
    r.close();
  }),
  measure(
    'read one transposed view (gather)',
    () => {
      const f = TorchBinFile.open(path);
      f.readRaw('transposed');
      f.close();
    },
    tensorMiB * 2 ** 20,
  ),
  {
    name: 'PyTorch torch.load, whole file (reference)',
    seconds: +torchLoadSeconds.toFixed(4),
    MiB_per_s: +(bytes / 2 ** 20 / torchLoadSeconds).toFixed(0),
    peak_rss_growth_MiB: '-',
  },
];
rmSync(dir, { recursive: true, force: true });

const config = { total_MiB: count * tensorMiB, tensors: count, tensor_MiB: tensorMiB };
for (const row of rows) console.log(JSON.stringify({ bench: 'torch_bin_io', ...config, ...row }));
console.table(rows);
