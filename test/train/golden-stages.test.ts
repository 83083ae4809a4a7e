// Stage 1 and stage 2 of the tiny LLaVA against the golden runs of transformers' Trainer (train_llava_tiny):
// optimizer groups by name, per-step loss, micro-batch losses, lr of every group and pre-clip gradient norm (rtol
// 1e-5), parameters after every step and at the end (atol 1e-5), Adam moments after steps 3 and 6 (1e-5 of their
// largest value), and the frozen parameters' sha256 from meta.json unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, scope } from '../../src/torch/index.js';
import { applyStage } from '../../src/train/trainability.js';
import { noDecayNames, optimizerGroups } from '../../src/train/param-groups.js';
import { Trainer } from '../../src/train/trainer.js';
import { maxAbsDiff } from '../helpers/golden.js';
import { assertArrayClose } from '../helpers/close.js';
import { fixtureSource, floats, frozenOf, frozenSha256, goldenOptions, loadTiny, meta, train } from './helpers.js';

const paramsNamed = (model: ReturnType<typeof loadTiny>) => new Map(model.namedParameters());

test('stage 1: only the projector trains, in 2 groups, step for step as Trainer', async () => {
  const model = loadTiny();
  const { parameters } = applyStage(model, 'pretrain');
  const groups = optimizerGroups(parameters, noDecayNames(model), { lr: 1e-3, weightDecay: 0 });
  assert.deepEqual(
    groups.map((g) => [g.names, g.weightDecay, g.lr]),
    meta.stage1.param_groups.map((g: any) => [g.params, g.weight_decay, g.initial_lr]),
  );
  const frozenBefore = frozenSha256(frozenOf(model));
  assert.equal(frozenBefore, meta.stage1.frozen_check.sha256_before);
  assert.equal(frozenOf(model).length, meta.stage1.frozen_check.n_tensors);
  const trainer = new Trainer(model, groups, fixtureSource(), goldenOptions(3));
  assert.equal(trainer.totalSteps, meta.stage1.max_steps);
  assert.equal(trainer.warmup, meta.stage1.num_warmup_steps);
  const params = paramsNamed(model);
  const losses: number[] = [];
  const norms: number[] = [];
  const lrs: number[] = [];
  const microLosses: number[] = [];
  while (!trainer.done) {
    const m = await trainer.trainStep();
    losses.push(m.loss);
    norms.push(m.gradNorm);
    lrs.push(...m.lrs);
    microLosses.push(...m.microBatchLosses);
    for (const name of meta.stage1.trainable as string[]) {
      const want = train.fixture(`stage1.param.${name}`).select(0, m.step - 1);
      assert.ok(maxAbsDiff(params.get(name)!, want) <= 1e-5, `${name} after step ${m.step}`);
    }
  }
  assertArrayClose(losses, floats(train.fixture('stage1.loss')), { atol: 0, rtol: 1e-5 });
  assertArrayClose(microLosses, floats(train.fixture('stage1.microbatch_loss')), { atol: 0, rtol: 1e-5 });
  assertArrayClose(norms, floats(train.fixture('stage1.grad_norm')), { atol: 0, rtol: 1e-5 });
  assertArrayClose(lrs, meta.stage1.lr_used_per_step_and_group.flat(), { atol: 1e-12, rtol: 1e-12 });
  for (const name of meta.stage1.trainable as string[])
    assert.ok(maxAbsDiff(params.get(name)!, train.fixture(`stage1.final.${name}`)) <= 1e-5, name);
  assert.equal(frozenSha256(frozenOf(model)), meta.stage1.frozen_check.sha256_after, 'frozen parameters changed');
  for (const [name, p] of frozenOf(model)) assert.equal(p.grad, undefined, `${name} holds a gradient`);
  assert.equal(
    trainer.optimizer.stateDict().state.size,
    meta.stage1.trainable.length,
    'optimizer state only for trainables',
  );
  await trainer.close();
});

test('stage 2: projector + LLM in 4 groups (weight decay 0.1, mm_projector_lr), vision tower bit-identical', async () => {
  const model = loadTiny();
  noGrad(() => {
    for (const name of meta.stage1.trainable as string[])
      paramsNamed(model)
        .get(name)!
        .copy_(train.fixture(`stage1.final.${name}`));
  });
  const { parameters } = applyStage(model, 'finetune');
  const groups = optimizerGroups(parameters, noDecayNames(model), { lr: 2e-4, weightDecay: 0.1, projectorLr: 5e-4 });
  assert.deepEqual(
    groups.map((g) => [g.names, g.weightDecay, g.lr]),
    meta.stage2.param_groups.map((g: any) => [g.params, g.weight_decay, g.initial_lr]),
  );
  assert.deepEqual(
    parameters.map(([n]) => n),
    meta.stage2.trainable,
  );
  assert.equal(frozenSha256(frozenOf(model)), meta.stage2.frozen_check.sha256_before);
  const trainer = new Trainer(model, groups, fixtureSource(), goldenOptions(3));
  const params = paramsNamed(model);
  const index = new Map(trainer.groups.flatMap((g) => g.params).map((p, i) => [p, i]));
  const checkMoments = (after: number) => {
    const state = trainer.optimizer.stateDict().state;
    const names = train.keys
      .filter((k) => k.startsWith(`stage2.after${after}.exp_avg.`))
      .map((k) => k.slice(`stage2.after${after}.exp_avg.`.length));
    assert.ok(names.length >= 5);
    for (const name of names) {
      const s = state.get(index.get(params.get(name)!)!)!;
      assert.equal(s.step, train.fixture(`stage2.after${after}.step.${name}`).item(), `${name} step`);
      for (const [key, got] of [
        ['exp_avg', s.expAvg],
        ['exp_avg_sq', s.expAvgSq],
      ] as const) {
        const want = train.fixture(`stage2.after${after}.${key}.${name}`);
        const rel = maxAbsDiff(got, want) / want.abs().max().item();
        assert.ok(rel <= 1e-5, `${key} of ${name} after step ${after}: ${rel} of its largest value`);
      }
    }
    for (const k of train.keys.filter((k) => k.startsWith(`stage2.after${after}.param.`))) {
      const name = k.slice(`stage2.after${after}.param.`.length);
      assert.ok(maxAbsDiff(params.get(name)!, train.fixture(k)) <= 1e-5, `${name} after step ${after}`);
    }
  };
  const losses: number[] = [];
  const norms: number[] = [];
  const lrs: number[] = [];
  while (!trainer.done) {
    const m = await trainer.trainStep();
    losses.push(m.loss);
    norms.push(m.gradNorm);
    lrs.push(...m.lrs);
    if (m.step === 3 || m.step === 6) scope(() => checkMoments(m.step));
  }
  assertArrayClose(losses, floats(train.fixture('stage2.loss')), { atol: 0, rtol: 1e-5 });
  assertArrayClose(norms, floats(train.fixture('stage2.grad_norm')), { atol: 0, rtol: 1e-5 });
  assertArrayClose(lrs, meta.stage2.lr_used_per_step_and_group.flat(), { atol: 1e-12, rtol: 1e-12 });
  for (const name of meta.stage2.trainable as string[])
    assert.ok(maxAbsDiff(params.get(name)!, train.fixture(`stage2.final.${name}`)) <= 1e-5, name);
  assert.equal(frozenSha256(frozenOf(model)), meta.stage2.frozen_check.sha256_after, 'the vision tower changed');
  assert.ok(frozenOf(model).every(([n]) => n.startsWith('vision_tower.')));
  await trainer.close();
});
