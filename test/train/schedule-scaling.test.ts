// Schedules by hand (transformers' lr lambdas), warmup = ceil(ratio × total), and the two loss scalings of
// gradient accumulation checked against the fixture's micro-batch losses and target counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrLambda, warmupSteps } from '../../src/train/schedule.js';
import { applyStage } from '../../src/train/trainability.js';
import { noDecayNames, optimizerGroups } from '../../src/train/param-groups.js';
import { Trainer } from '../../src/train/trainer.js';
import { assertArrayClose } from '../helpers/close.js';
import { fixtureSource, floats, goldenOptions, loadTiny, train } from './helpers.js';

test('warmup steps are ceil(ratio × total), or the explicit count', () => {
  assert.equal(warmupSteps(6, 0.03), 1);
  assert.equal(warmupSteps(100, 0.03), 3);
  assert.equal(warmupSteps(101, 0.03), 4); // 3.03 rounds up
  assert.equal(warmupSteps(5198, 0.03), 156); // ceil(155.94), v1.5 stage 2 at 665k / 128
  assert.equal(warmupSteps(100, 0.03, 10), 10);
});

test('cosine, linear, constant and constant_with_warmup lambdas, by hand', () => {
  const at = (type: Parameters<typeof lrLambda>[0]) => [0, 1, 2, 3, 4, 5].map((s) => lrLambda(type, s, 2, 6));
  // warmup 2 of 6: s/2 then the decay over the 4 remaining steps
  assertArrayClose(
    at('cosine'),
    [0, 0.5, 1, (1 + Math.cos(Math.PI / 4)) / 2, 0.5, (1 + Math.cos((3 * Math.PI) / 4)) / 2],
    {
      atol: 1e-15,
      rtol: 0,
    },
  );
  assertArrayClose(at('linear'), [0, 0.5, 1, 0.75, 0.5, 0.25], { atol: 1e-15, rtol: 0 });
  assertArrayClose(at('constant'), [1, 1, 1, 1, 1, 1], { atol: 0, rtol: 0 });
  assertArrayClose(at('constant_with_warmup'), [0, 0.5, 1, 1, 1, 1], { atol: 0, rtol: 0 });
});

test('gradient accumulation: mean of micro-batch means (4.37-4.45) vs token-weighted (≥ 4.46)', async () => {
  const micro = floats(train.fixture('stage1.microbatch_loss')).slice(0, 2); // step 1: the base model's losses
  const n = Array.from(train.fixture('data.microbatch_n_targets').toTypedArray() as BigInt64Array, Number).slice(0, 2);
  assert.notEqual(n[0], n[1], 'the fixture’s micro-batches differ in targets, so the two scalings differ');
  for (const [scaling, expected] of [
    ['mean', (micro[0]! + micro[1]!) / 2],
    ['token-weighted', (micro[0]! * n[0]! + micro[1]! * n[1]!) / (n[0]! + n[1]!)],
  ] as const) {
    const model = loadTiny();
    const { parameters } = applyStage(model, 'pretrain');
    const groups = optimizerGroups(parameters, noDecayNames(model), { lr: 1e-3, weightDecay: 0 });
    const trainer = new Trainer(model, groups, fixtureSource(), { ...goldenOptions(3), lossScaling: scaling });
    const m = await trainer.trainStep();
    await trainer.close();
    assertArrayClose([m.loss], [expected], { atol: 0, rtol: 1e-6 });
    assert.equal(m.targets, n[0]! + n[1]!);
  }
});
