// Activation recompute (gradient_checkpointing): the same loss and gradients as the plain pass (≤ 1e-6), the golden
// stage-2 run reproduced with it, and a lower peak memory, measured in child processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad, scope, type Tensor } from '../../src/torch/index.js';
import { applyStage } from '../../src/train/trainability.js';
import { noDecayNames, optimizerGroups } from '../../src/train/param-groups.js';
import { forwardBackwardRecompute } from '../../src/train/recompute.js';
import { Trainer } from '../../src/train/trainer.js';
import { maxAbsDiff } from '../helpers/golden.js';
import { assertArrayClose } from '../helpers/close.js';
import { fixtureSource, floats, goldenOptions, loadTiny, meta, train } from './helpers.js';

test('recompute gives the plain pass’s loss and gradients (≤ 1e-6), projector and embeddings included', async () => {
  const model = loadTiny();
  const { parameters } = applyStage(model, 'finetune');
  const batch = (await fixtureSource().epoch(0, 1).next()).value!;
  const plain = scope(() => {
    const loss = model.forward(batch).loss!;
    loss.mul(0.5).backward();
    return loss.item();
  });
  const grads = new Map<string, Tensor>(parameters.map(([n, p]) => [n, noGrad(() => p.grad!.clone())]));
  for (const [, p] of parameters) p.grad = undefined;
  const recomputed = forwardBackwardRecompute(model, batch, 0.5);
  assert.ok(Math.abs(recomputed - plain) <= 1e-6, `loss ${recomputed} vs ${plain}`);
  assert.equal(grads.size, 25);
  for (const [name, p] of parameters) {
    assert.ok(p.grad, `${name}: no gradient with recompute`);
    assert.ok(maxAbsDiff(p.grad, grads.get(name)!) <= 1e-6, `${name}: gradients differ`);
  }
});

test('the golden stage-2 run with recompute: Trainer’s losses and grad norms', async () => {
  const model = loadTiny();
  noGrad(() => {
    const params = new Map(model.namedParameters());
    for (const name of meta.stage1.trainable as string[])
      params.get(name)!.copy_(train.fixture(`stage1.final.${name}`));
  });
  const { parameters } = applyStage(model, 'finetune');
  const groups = optimizerGroups(parameters, noDecayNames(model), { lr: 2e-4, weightDecay: 0.1, projectorLr: 5e-4 });
  const trainer = new Trainer(model, groups, fixtureSource(), {
    ...goldenOptions(3),
    forwardBackward: (b, scale) => forwardBackwardRecompute(model, b, scale),
  });
  const losses: number[] = [];
  const norms: number[] = [];
  while (!trainer.done) {
    const m = await trainer.trainStep();
    losses.push(m.loss);
    norms.push(m.gradNorm);
  }
  await trainer.close();
  assertArrayClose(losses, floats(train.fixture('stage2.loss')), { atol: 0, rtol: 1e-5 });
  assertArrayClose(norms, floats(train.fixture('stage2.grad_norm')), { atol: 0, rtol: 1e-5 });
});

test('recompute lowers the peak memory of a step (8 layers, 4 × 256 tokens), measured', () => {
  const child = join(dirname(fileURLToPath(import.meta.url)), 'recompute-child.js');
  const peak = (mode: string) => {
    const r = spawnSync(process.execPath, [child, mode], {
      encoding: 'utf8',
      // glibc's mmap threshold fixed at 64 KiB: every tensor is mapped on allocation and unmapped when freed, so
      // the peak RSS follows the bytes alive, not what the heap kept of earlier frees.
      env: { ...process.env, OMP_NUM_THREADS: '1', MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '0' },
    });
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { added: number }).added;
  };
  const plain = peak('plain');
  const recompute = peak('recompute');
  assert.ok(
    recompute < 0.6 * plain,
    `recompute added ${(recompute / 2 ** 20).toFixed(0)} MiB, plain ${(plain / 2 ** 20).toFixed(0)} MiB`,
  );
});
