// All-reduce bandwidth of c10d's Gloo over 2 processes on loopback, 1 to 256 MiB float32 buffers,
// beside PyTorch's torch.distributed with Gloo (bench/distributed_pytorch.py) in the same run.
// Bandwidth is the buffer's bytes over the median all-reduce time (algorithm bandwidth).
// And the DDP step overhead: a small LLaMA's forward + backward on 2 ranks with the Reducer's
// bucketed all-reduce against the same step on the same 2 ranks without gradient sync (so both
// share the machine's cores alike): what communication adds beyond what backward hides; beside
// the same ratio of PyTorch's DistributedDataParallel (the same c10d Reducer) on the same ranks.
// This file is both the bench (no RANK set) and each rank (RANK set by launch()).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { DataParallel, ProcessGroup, launch, freePort } from '../src/distributed/index.js';
import { LlamaForCausalLM, llamaConfig } from '../src/models/index.js';
import { median, medianMsAsync, report, type Row } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, '..', '..', 'bench');
const MIB = 2 ** 20;
const sizesMiB = [1, 4, 16, 64, 256];
const repsFor = (mib: number) => (mib >= 64 ? 3 : 10);
type Result = { mib: number; ms: number }[];

const stepModel = {
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  vocab_size: 4096,
};
const STEP_BATCH = [2, 128];
const STEP_REPS = 5;
const STEP_BUCKET_MIB = 4;

/** Median ms of a forward + backward with and without the Reducer's gradient sync, alternated. */
async function stepRank(group: ProcessGroup): Promise<{ syncMs: number; localMs: number }> {
  T.manualSeed(0);
  const model = new LlamaForCausalLM(llamaConfig(stepModel)).train();
  const dp = await DataParallel.create(group, model.parameters(), { bucketBytes: STEP_BUCKET_MIB * MIB });
  const ids = T.randint(0, stepModel.vocab_size, STEP_BATCH);
  const step = (sync: boolean) => async () => {
    await group.barrier();
    T.scope(() => {
      if (sync) dp.prepareForBackward();
      model.forward({ inputIds: ids, labels: ids }).loss!.backward();
    });
    for (const p of model.parameters()) p.grad = undefined;
  };
  const syncMs: number[] = [];
  const localMs: number[] = [];
  for (let i = 0; i < STEP_REPS; i++) {
    syncMs.push(await medianMsAsync(step(true), 1, i === 0 ? 1 : 0));
    localMs.push(await medianMsAsync(step(false), 1, i === 0 ? 1 : 0));
  }
  return { syncMs: median(syncMs), localMs: median(localMs) };
}

async function rank(out: string): Promise<void> {
  const group = await ProcessGroup.fromEnv({ timeoutMs: 120_000 });
  if (process.env.LLAVA_BENCH_STEP) {
    const result = await stepRank(group);
    if (group.rank === 0) writeFileSync(out, JSON.stringify(result));
    group.close();
    return;
  }
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

/** The PyTorch anchor: the same two ranks, sizes and repetitions (or the same step), with torch.distributed. */
async function pytorch<R>(step = false): Promise<{ torch_version: string; results: R }> {
  const port = await freePort();
  const cfg = step
    ? { port, step: { model: stepModel, batch: STEP_BATCH, reps: STEP_REPS, bucketMiB: STEP_BUCKET_MIB } }
    : { sizesMiB, port };
  const args = [join(benchDir, 'distributed_pytorch.py'), JSON.stringify(cfg)];
  const env = (r: number) => ({ ...process.env, OMP_NUM_THREADS: '1', RANK: String(r), WORLD_SIZE: '2' });
  const peer = spawn('/usr/bin/python3', args, { env: env(1), stdio: 'inherit' });
  const peerDone = new Promise<void>((resolve, reject) =>
    peer.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`PyTorch rank 1 exited with ${code}`)))),
  );
  const out = execFileSync('/usr/bin/python3', args, { env: env(0), encoding: 'utf8' });
  await peerDone;
  return JSON.parse(out);
}

/** One run of our two ranks (the step bench with `step`): what rank 0 wrote. */
async function ours<R>(dir: string, step = false): Promise<R> {
  const out = join(dir, 'rank0.json');
  await launch({
    script: fileURLToPath(import.meta.url),
    nprocPerNode: 2,
    env: { ...process.env, OMP_NUM_THREADS: '1', LLAVA_BENCH_OUT: out, ...(step ? { LLAVA_BENCH_STEP: '1' } : {}) },
  });
  return JSON.parse(readFileSync(out, 'utf8')) as R;
}

async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'llava-bench-dist-'));
  try {
    // Rounds alternate the two sides, so load from elsewhere on the machine falls on both alike.
    const rounds = 3;
    const oursMs: number[][] = sizesMiB.map(() => []);
    const torchMs: number[][] = sizesMiB.map(() => []);
    let torchVersion = '';
    for (let round = 0; round < rounds; round++) {
      (await ours<Result>(dir)).forEach((r, i) => oursMs[i]!.push(r.ms));
      const torch = await pytorch<Result>();
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
    // The step: ours and PyTorch's DDP alternated; what counts is each side's sync step over its own no-sync step.
    type Step = { syncMs: number; localMs: number };
    const oursStep: Step[] = [];
    const torchStep: Step[] = [];
    for (let round = 0; round < rounds; round++) {
      oursStep.push(await ours<Step>(dir, true));
      torchStep.push((await pytorch<Step>(true)).results);
    }
    const overhead = (steps: Step[]) => median(steps.map((s) => s.syncMs / s.localMs));
    const stepMetric = `LLaMA 4×256 vocab 4096, B${STEP_BATCH.join(' × ')} fwd+bwd, 2 ranks, ${STEP_BUCKET_MIB} MiB buckets`;
    rows.push(
      {
        bench: 'distributed',
        metric: `DDP step, ${stepMetric}`,
        unit: 'ms',
        ours: median(oursStep.map((s) => s.syncMs)),
        anchor: median(torchStep.map((s) => s.syncMs)),
        anchorName: `PyTorch ${torchVersion}`,
        higherIsBetter: false,
        note: `median of ${rounds} alternating rounds`,
      },
      {
        bench: 'distributed',
        metric: `DDP step overhead (sync step / no-sync step), ${stepMetric}`,
        unit: '×',
        ours: overhead(oursStep),
        anchor: overhead(torchStep),
        anchorName: `PyTorch ${torchVersion} DistributedDataParallel`,
        higherIsBetter: false,
        note: 'target ≤ 1.10× (communication hidden behind backward)',
      },
    );
    report(rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.RANK !== undefined) await rank(process.env.LLAVA_BENCH_OUT!);
else await bench();
