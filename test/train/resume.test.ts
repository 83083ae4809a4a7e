// Exact resume: a run SIGKILLed at a random point (several seeds), then resumed from its latest checkpoint, gives
// bit for bit the losses, gradient norms and final weights of a run never stopped (CPU, fp32); LoRA with dropout
// checks that the random state resumes too. Checkpoints are complete or absent, keep-last-N holds, and a
// checkpoint of another run is refused naming what differs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listCheckpoints, loadCheckpoint } from '../../src/train/checkpoint.js';
import { noDecayNames, optimizerGroups } from '../../src/train/param-groups.js';
import { applyStage } from '../../src/train/trainability.js';
import { Trainer } from '../../src/train/trainer.js';
import { fixtureSource, goldenOptions, loadTiny, tempDir } from './helpers.js';

const child = join(dirname(fileURLToPath(import.meta.url)), 'resume-child.js');
type Line = { step: number; loss: number; gradNorm: number };
const parse = (stdout: string): Line[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

function runToEnd(out: string, stage: string, seed: number, resume: boolean): Line[] {
  const r = spawnSync(process.execPath, [child, out, stage, String(seed), resume ? '1' : '0'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return parse(r.stdout);
}

/** Starts a run and SIGKILLs it `delayMs` after it reports step `killAfter`. */
function runAndKill(out: string, stage: string, seed: number, killAfter: number, delayMs: number): Promise<Line[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, out, stage, String(seed), '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (parse(stdout).some((l) => l.step === killAfter)) setTimeout(() => p.kill('SIGKILL'), delayMs);
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the run ended (${code}) before it was killed`));
      else resolve(parse(stdout));
    });
  });
}

/** A small deterministic generator for the kill points (xorshift). */
function* points(seed: number): Generator<number> {
  let x = seed * 2654435761 + 1;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    yield (x >>> 0) / 2 ** 32;
  }
}

for (const [stage, seeds] of [
  ['finetune', [11, 12]],
  ['lora', [13]],
] as const) {
  test(`${stage}: SIGKILL at a random step, then --resume, is bitwise the uninterrupted run (seeds ${seeds})`, async () => {
    for (const seed of seeds) {
      const whole = tempDir('llava-resume-whole-');
      const cut = tempDir('llava-resume-cut-');
      try {
        const reference = runToEnd(whole.path, stage, seed, false);
        assert.equal(reference.length, 6);
        const draw = points(seed);
        const killAfter = 1 + Math.floor(draw.next().value! * 4); // after step 1..4 of 6
        const killed = await runAndKill(cut.path, stage, seed, killAfter, Math.floor(draw.next().value! * 30));
        const resumedFrom = Number(listCheckpoints(cut.path).at(-1)!.split('-').at(-1));
        assert.ok(resumedFrom >= killAfter && resumedFrom < 6, `killed after step ${resumedFrom}`);
        // A new checkpoint is renamed in before the oldest is pruned (so a crash never leaves fewer than 2 whole
        // ones): a kill between the two leaves keep-last + 1, and the next save prunes back to 2.
        assert.ok(listCheckpoints(cut.path).length <= 3, 'keep-last-2 (+1 when killed before pruning)');
        assert.ok(readdirSync(cut.path).every((f) => !f.includes('.tmp') || f.startsWith('.')));
        // Steps up to the checkpoint as its trainer_state.json recorded them (the kill may land after the
        // checkpoint's rename and before the child printed that step's line).
        const state = JSON.parse(readFileSync(join(listCheckpoints(cut.path).at(-1)!, 'trainer_state.json'), 'utf8'));
        const recorded = (state.log_history as Line[]).map(({ step, loss, gradNorm }) => ({ step, loss, gradNorm }));
        assert.deepEqual(
          killed.filter((l) => l.step <= resumedFrom),
          recorded.slice(0, killed.filter((l) => l.step <= resumedFrom).length),
        );
        const resumed = runToEnd(cut.path, stage, seed, true);
        assert.deepEqual(
          resumed.map((l) => l.step),
          [...Array(6 - resumedFrom)].map((_, i) => resumedFrom + 1 + i),
        );
        assert.ok(listCheckpoints(cut.path).length <= 2, 'keep-last-2 after the resumed run');
        const combined = [...recorded, ...resumed];
        assert.deepEqual(combined, reference, `seed ${seed}: losses and grad norms differ after resuming`);
        assert.ok(
          readFileSync(join(cut.path, 'final.safetensors')).equals(readFileSync(join(whole.path, 'final.safetensors'))),
          `seed ${seed}: final weights differ`,
        );
      } finally {
        whole.remove();
        cut.remove();
      }
    }
  });
}

test('a checkpoint of another run is refused, naming what differs', () => {
  const out = tempDir('llava-resume-other-');
  try {
    runToEnd(out.path, 'finetune', 5, false);
    const model = loadTiny();
    const { parameters } = applyStage(model, 'finetune');
    const groups = optimizerGroups(parameters, noDecayNames(model), { lr: 1e-3, weightDecay: 0.1 });
    const trainer = new Trainer(model, groups, fixtureSource(), goldenOptions(3));
    assert.throws(
      () =>
        loadCheckpoint(listCheckpoints(out.path).at(-1)!, trainer, parameters, {
          stage: 'lora',
          seed: 5,
          model: 'llava_tiny',
        }),
      /another run[\s\S]*stage: checkpoint "finetune" ≠ this run "lora"/,
    );
  } finally {
    out.remove();
  }
});
