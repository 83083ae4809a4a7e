// All-reduce bandwidth of c10d's Gloo over 2 processes on loopback, 1 to 256 MiB float32 buffers,
// beside PyTorch's torch.distributed with Gloo (bench/distributed_pytorch.py) in the same run.
// Bandwidth is the buffer's bytes over the median all-reduce time (algorithm bandwidth).
// This file is both the bench (no RANK set) and each rank (RANK set by launch()).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { ProcessGroup, launch, freePort } from '../src/distributed/index.js';
import { medianMsAsync, report, type Row } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, '..', '..', 'bench');
const MIB = 2 ** 20;
const sizesMiB = [1, 4, 16, 64, 256];
const repsFor = (mib: number) => (mib >= 64 ? 3 : 10);
type Result = { mib: number; ms: number }[];

async function rank(out: string): Promise<void> {
  const group = await ProcessGroup.fromEnv({ timeoutMs: 120_000 });
  const results: Result = [];
  for (const mib of sizesMiB) {
    const buffer = T.ones([(mib * MIB) / 4]);
    await group.barrier();
    results.push({ mib, ms: await medianMsAsync(() => group.allReduce(buffer, 'sum'), repsFor(mib), 1) });
    buffer.dispose();
  }
  if (group.rank === 0) writeFileSync(out, JSON.stringify(results));
  group.close();
}

/** The PyTorch anchor: the same two ranks, sizes and repetitions, with torch.distributed. */
async function pytorch(): Promise<{ torch_version: string; results: Result }> {
  const port = await freePort();
  const args = [join(benchDir, 'distributed_pytorch.py'), JSON.stringify({ sizesMiB, port })];
  const env = (r: number) => ({ ...process.env, OMP_NUM_THREADS: '1', RANK: String(r), WORLD_SIZE: '2' });
  const peer = spawn('/usr/bin/python3', args, { env: env(1), stdio: 'inherit' });
  const peerDone = new Promise<void>((resolve, reject) =>
    peer.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`PyTorch rank 1 exited with ${code}`)))),
  );
  const out = execFileSync('/usr/bin/python3', args, { env: env(0), encoding: 'utf8' });
  await peerDone;
  return JSON.parse(out);
}

/** One run of our two ranks: each size's median all-reduce ms. */
async function ours(dir: string): Promise<Result> {
  const out = join(dir, 'rank0.json');
  await launch({
    script: fileURLToPath(import.meta.url),
    nprocPerNode: 2,
    env: { ...process.env, OMP_NUM_THREADS: '1', LLAVA_BENCH_OUT: out },
  });
  return JSON.parse(readFileSync(out, 'utf8')) as Result;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llava-bench-dist-'));
  try {
    // Rounds alternate the two sides, so load from elsewhere on the machine falls on both alike.
    const rounds = 3;
    const oursMs: number[][] = sizesMiB.map(() => []);
    const torchMs: number[][] = sizesMiB.map(() => []);
    let torchVersion = '';
    for (let round = 0; round < rounds; round++) {
      (await ours(dir)).forEach((r, i) => oursMs[i]!.push(r.ms));
      const torch = await pytorch();
      torch.results.forEach((r, i) => torchMs[i]!.push(r.ms));
      torchVersion = torch.torch_version;
    }
    const gbps = (mib: number, ms: number) => (mib * MIB) / 1e9 / (ms / 1e3);
    const rows: Row[] = sizesMiB.map((mib, i) => ({
      bench: 'distributed',
      metric: `all-reduce ${mib} MiB float32, 2 ranks, Gloo on loopback`,
      unit: 'GB/s',
      ours: gbps(mib, median(oursMs[i]!)),
      anchor: gbps(mib, median(torchMs[i]!)),
      anchorName: `PyTorch ${torchVersion}`,
      higherIsBetter: true,
      note: `target ≥ 0.95×; median of ${rounds} alternating rounds`,
    }));
    report(rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.RANK !== undefined) await rank(process.env.LLAVA_BENCH_OUT!);
else await bench();
