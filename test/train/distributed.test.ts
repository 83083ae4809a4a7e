// `llava train --nproc-per-node 2` on loopback (Gloo) against one process with the same global batch, on the small
// LLaVA: the same per-step losses (the all-reduced global mean) and the same trained weights (≤ 1e-5), for DDP and
// ZeRO-1/2, with each rank running one micro-batch per step or accumulating two. A rank SIGKILLed mid-run makes the
// other stop with an error naming it; resuming from the last checkpoint (written by rank 0 alone) on 2 ranks and on
// 1 continues the uninterrupted loss curve and ends at its weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { openSafetensors } from '../../src/io/tensors.js';
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { maxAbsDiff } from '../helpers/golden.js';
import { writeInstructionData, writeSmallLlava } from './small-llava.js';
import { tempDir } from './helpers.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const root = tempDir('llava-ddp-');
const model = join(root.path, 'model');
let conversations: string;

test.before(async () => {
  writeSmallLlava(model);
  conversations = await writeInstructionData(root.path, 8, 'conversation');
});
test.after(() => root.remove());

/** A finetune recipe on the 8 samples: global batch 2 × gradient_accumulation_steps, `epochs` epochs. */
function recipe(name: string, values: Record<string, unknown>): string {
  const path = join(root.path, `${name}.yaml`);
  writeFileSync(
    path,
    stringify({
      stage: 'finetune',
      model_name_or_path: model,
      image_folder: join(root.path, 'images'),
      preprocessor_config: join(model, 'preprocessor_config.json'),
      data_path: conversations,
      per_device_train_batch_size: 2,
      gradient_accumulation_steps: 2,
      lr_scheduler_type: 'cosine',
      learning_rate: 1e-3, // no warmup: every step's update counts
      mm_projector_lr: 3e-3, // LLaVA's four optimizer groups: two lrs, with and without decay
      weight_decay: 0.1,
      model_max_length: 64,
      save_steps: 1,
      save_total_limit: 100,
      ddp_timeout: 60,
      output_dir: join(root.path, name),
      ...values,
    }),
  );
  return path;
}

const childEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '1' };
  delete env.NODE_TEST_CONTEXT; // the ranks are plain commands, not test files
  for (const k of ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT']) delete env[k];
  return env;
};

function train(args: string[]): string {
  const r = spawnSync(process.execPath, [main, 'train', ...args, '--no-progress'], {
    env: childEnv(),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

/** metrics.jsonl's loss of each step, by step. */
function losses(outputDir: string): Map<number, number> {
  const lines = readFileSync(join(outputDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
  return new Map(lines.map((l) => JSON.parse(l) as { step: number; loss: number }).map((m) => [m.step, m.loss]));
}

function assertSameLosses(actual: Map<number, number>, expected: Map<number, number>, from = 1): void {
  const steps = [...expected.keys()].filter((s) => s >= from);
  assert.ok(steps.length > 0);
  for (const s of steps) {
    const a = actual.get(s);
    assert.ok(a !== undefined && Math.abs(a - expected.get(s)!) <= 1e-5, `step ${s}: ${a} vs ${expected.get(s)}`);
  }
}

/** The trained weights of the last checkpoint of each run agree (≤ 1e-5). */
function assertSameWeights(outputDir: string, reference: string): void {
  const a = openSafetensors(join(listCheckpoints(outputDir).at(-1)!, 'trainable.safetensors'));
  const b = openSafetensors(join(listCheckpoints(reference).at(-1)!, 'trainable.safetensors'));
  assert.deepEqual(a.names().sort(), b.names().sort());
  for (const name of b.names()) {
    const diff = maxAbsDiff(a.readTensor(name), b.readTensor(name));
    assert.ok(diff <= 1e-5, `${name}: ${diff}`);
  }
  a.close();
  b.close();
}

for (const zero of [0, 1, 2])
  for (const ga of [2, 4])
    test(`2 ranks (zero_stage ${zero}, ${ga / 2} micro-batch(es) per rank per step) = 1 process with the same global batch`, () => {
      const single = recipe(`single-z${zero}-ga${ga}`, { gradient_accumulation_steps: ga, num_train_epochs: 2 });
      train(['--recipe', single]);
      const two = recipe(`two-z${zero}-ga${ga}`, {
        gradient_accumulation_steps: ga,
        num_train_epochs: 2,
        zero_stage: zero,
      });
      const log = train(['--recipe', two, '--nproc-per-node', '2']);
      const out = (name: string) => join(root.path, name);
      const expected = losses(out(`single-z${zero}-ga${ga}`));
      assert.equal(expected.size, 8 / ga);
      assertSameLosses(losses(out(`two-z${zero}-ga${ga}`)), expected);
      assertSameWeights(out(`two-z${zero}-ga${ga}`), out(`single-z${zero}-ga${ga}`));
      // Only rank 0 logs: the run's summary line appears once, with how the ranks share the work.
      assert.equal(log.match(/micro-batches per epoch/g)?.length, 1, log);
      assert.match(
        log,
        new RegExp(`^2 ranks, ${zero ? `ZeRO stage ${zero}` : 'DDP'}, ${ga / 2} micro-batch`, 'm'),
        log,
      );
    });

/** The pids of `parent`'s children with RANK=`rank` in their environment. */
function rankPid(parent: number, rank: number): number | undefined {
  const children = execFileSync('pgrep', ['-P', String(parent)], { encoding: 'utf8' })
    .trim()
    .split('\n');
  return children.map(Number).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`RANK=${rank}`);
    } catch {
      return false;
    }
  });
}

/** Starts a 2-rank run and SIGKILLs rank 1 once rank 0 has logged step `after`; the launcher's exit and stderr. */
function runAndKillRank1(recipePath: string, after: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [main, 'train', '--recipe', recipePath, '--nproc-per-node', '2', '--no-progress'],
      {
        env: childEnv(),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    let killed = false;
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!killed && new RegExp(`^step ${after}/`, 'm').test(stderr)) {
        const pid = rankPid(p.pid!, 1);
        if (pid === undefined) return reject(new Error('rank 1 not found among the launcher children'));
        killed = true;
        process.kill(pid, 'SIGKILL');
      }
    });
    p.on('error', reject);
    p.on('exit', (code) =>
      killed ? resolve({ code, stderr }) : reject(new Error(`ended (${code}) before the kill: ${stderr}`)),
    );
  });
}

for (const zero of [0, 2])
  test(`zero_stage ${zero}: SIGKILL of rank 1 stops rank 0 naming it; resuming on 2 ranks and on 1 continues the loss curve`, async () => {
    const values = { num_train_epochs: 4, zero_stage: zero };
    const full = recipe(`full-z${zero}`, values);
    train(['--recipe', full]);
    const expected = losses(join(root.path, `full-z${zero}`));
    assert.equal(expected.size, 8);

    const killedRun = recipe(`killed-z${zero}`, values);
    const { code, stderr } = await runAndKillRank1(killedRun, 3);
    assert.notEqual(code, 0);
    assert.match(stderr, /rank 0: .*rank 1 is gone/, stderr);
    assert.match(stderr, /distributed launch: rank 1 was killed by SIGKILL/, stderr);
    const killedDir = join(root.path, `killed-z${zero}`);
    const last = listCheckpoints(killedDir).at(-1)!;
    const step = Number(last.split('-').at(-1));
    // Step 3's checkpoint exists unless rank 1 died before its (under ZeRO, collective) gathering.
    assert.ok(step >= 2 && step < 8, `last checkpoint ${last}`);
    // Written by rank 0 alone: no other rank's temporary folder.
    assert.deepEqual(
      readdirSync(killedDir).filter((f) => f.startsWith('.')),
      [],
    );

    const onOne = join(root.path, `resumed-one-z${zero}`);
    cpSync(killedDir, onOne, { recursive: true });
    train(['--recipe', killedRun, '--resume', '--nproc-per-node', '2']); // in place
    train(['--recipe', killedRun, '--set', `output_dir=${onOne}`, '--resume']);
    for (const dir of [killedDir, onOne]) {
      assertSameLosses(losses(dir), expected, step + 1);
      assertSameWeights(dir, join(root.path, `full-z${zero}`));
    }
  });

test('a gradient_accumulation_steps the world size does not divide stops every rank, naming both', () => {
  const r = spawnSync(
    process.execPath,
    [main, 'train', '--recipe', recipe('odd', { gradient_accumulation_steps: 3 }), '--nproc-per-node', '2'],
    { env: childEnv(), encoding: 'utf8' },
  );
  assert.equal(r.status, 1, r.stderr);
  for (const rank of [0, 1])
    assert.match(
      r.stderr,
      new RegExp(`rank ${rank}: gradient_accumulation_steps 3 does not split over 2 ranks`),
      r.stderr,
    );
  assert.match(r.stderr, /distributed launch: rank [01] exited with code 1/);
});

test('Ctrl-C on a 2-rank ZeRO-1 run: every rank ends the same step, rank 0 checkpoints, exit 130; --resume finishes it', async () => {
  const values = { num_train_epochs: 3, zero_stage: 1 };
  const full = recipe('ctrl-c-full', values);
  train(['--recipe', full]);
  const expected = losses(join(root.path, 'ctrl-c-full'));
  const interrupted = recipe('ctrl-c', values);
  // Its own process group, as a terminal's foreground job: the Ctrl-C goes to the launcher and both ranks.
  const p = spawn(
    process.execPath,
    [main, 'train', '--recipe', interrupted, '--nproc-per-node', '2', '--no-progress'],
    {
      env: childEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    },
  );
  let stderr = '';
  let sent = false;
  const code = await new Promise<number | null>((resolve, reject) => {
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && /^step 2\//m.test(stderr)) {
        sent = true;
        process.kill(-p.pid!, 'SIGINT');
      }
    });
    p.on('error', reject);
    p.on('exit', resolve);
  });
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted: checkpoint written at step (\d+)/);
  const step = Number(/interrupted: checkpoint written at step (\d+)/.exec(stderr)![1]);
  assert.ok(step >= 2 && step < 6, stderr);
  train(['--recipe', interrupted, '--resume', '--nproc-per-node', '2']);
  const dir = join(root.path, 'ctrl-c');
  assertSameLosses(losses(dir), expected);
  assertSameWeights(dir, join(root.path, 'ctrl-c-full'));
});

test('bf16 ZeRO-2: checkpoints hold the fp32 masters gathered from the shards; a resume on 2 ranks continues exactly', () => {
  const values = { num_train_epochs: 2, zero_stage: 2, bf16: true };
  const full = recipe('bf16-full', values);
  train(['--recipe', full, '--nproc-per-node', '2']);
  const fullDir = join(root.path, 'bf16-full');
  const second = join(fullDir, 'checkpoint-2');
  const saved = openSafetensors(join(second, 'trainable.safetensors'));
  // Masters: fp32 values that bf16 (the upper 16 bits of a float32) cannot hold.
  let finerThanBf16 = 0;
  for (const name of saved.names()) {
    const t = saved.readTensor(name);
    assert.equal(t.dtype, 'float32', name);
    const bits = new Uint32Array((t.toTypedArray() as Float32Array).slice().buffer);
    finerThanBf16 += bits.filter((b) => (b & 0xffff) !== 0).length;
  }
  saved.close();
  assert.ok(finerThanBf16 > 0, 'the checkpoint holds bf16-rounded weights, not the masters');
  const resumed = recipe('bf16-resumed', values);
  train(['--recipe', resumed, '--resume-from', second, '--nproc-per-node', '2']);
  const dir = join(root.path, 'bf16-resumed');
  assertSameLosses(losses(dir), losses(fullDir), 3);
  assertSameWeights(dir, fullDir);
});

test('bf16 under DDP is refused with the reason and the way out (Gloo has no bfloat16 all-reduce)', () => {
  const r = spawnSync(
    process.execPath,
    [main, 'train', '--recipe', recipe('bf16-ddp', { bf16: true }), '--nproc-per-node', '2'],
    { env: childEnv(), encoding: 'utf8' },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /rank 0: zero_stage 0 with bfloat16 weights: .*use zero_stage 1 or 2/, r.stderr);
});
