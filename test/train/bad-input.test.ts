// Bad input, each with a clear message: a NaN loss is skipped (weights untouched) and the run stops after
// max_non_finite_steps in a row; a checkpoint write that fails midway leaves the previous checkpoint intact and
// usable; through `llava train`: an empty dataset, a missing image (skip with a count, or fail naming it), samples
// whose labels are all masked (counted, the run stops above the share), a run that cannot fit in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { run } from '../../src/cli/train.js';
import { noGrad, scope } from '../../src/torch/index.js';
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { applyStage } from '../../src/train/trainability.js';
import { noDecayNames, optimizerGroups } from '../../src/train/param-groups.js';
import { NonFiniteLossError, Trainer, type MicroBatchSource } from '../../src/train/trainer.js';
import { maxAbsDiff } from '../helpers/golden.js';
import { fixtureSource, goldenOptions, loadTiny, tempDir } from './helpers.js';
import { writeInstructionData, writeSmallLlava } from './small-llava.js';

function stage1() {
  const model = loadTiny();
  const { parameters } = applyStage(model, 'pretrain');
  return { model, parameters, groups: optimizerGroups(parameters, noDecayNames(model), { lr: 1e-3, weightDecay: 0 }) };
}

test('a NaN loss skips the step without touching the weights; max_non_finite_steps in a row stop the run', async () => {
  const { parameters, groups, model } = stage1();
  const source = fixtureSource();
  const poisoned: MicroBatchSource = {
    perEpoch: source.perEpoch,
    async *epoch(e: number, start: number) {
      const it = source.epoch(e, start);
      for (let r = await it.next(); !r.done; r = await it.next())
        yield { ...r.value, pixelValues: r.value.pixelValues!.mul(Number.NaN) };
    },
  };
  const trainer = new Trainer(model, groups, poisoned, { ...goldenOptions(3), maxNonFiniteSteps: 2 });
  const before = parameters.map(([, p]) => noGrad(() => p.clone()));
  const m = await trainer.trainStep();
  assert.ok(m.skipped && Number.isNaN(m.loss));
  scope(() => parameters.forEach(([n, p], i) => assert.equal(maxAbsDiff(p, before[i]!), 0, n)));
  assert.equal(trainer.optimizer.stateDict().state.size, 0, 'no optimizer step');
  await assert.rejects(
    trainer.trainStep(),
    (err: Error) => err instanceof NonFiniteLossError && /2 steps in a row were not finite/.test(err.message),
  );
  await trainer.close();
});

test('a checkpoint write failing midway leaves the previous checkpoint intact, usable, and no partial folder', async () => {
  const out = tempDir('llava-ckfail-');
  try {
    const { parameters, groups, model } = stage1();
    const trainer = new Trainer(model, groups, fixtureSource(), goldenOptions(3));
    await trainer.trainStep();
    saveCheckpoint(out.path, trainer, parameters, { fingerprint: { run: 'a' }, logHistory: [], keepLast: 3 });
    await trainer.trainStep();
    // trainer_state.json is written after both tensor files: a value JSON cannot hold fails the write there.
    assert.throws(
      () => saveCheckpoint(out.path, trainer, parameters, { fingerprint: { run: 1n }, logHistory: [], keepLast: 3 }),
      /writing checkpoint .*checkpoint-2 failed \(earlier checkpoints are intact\)/,
    );
    assert.deepEqual(readdirSync(out.path), ['checkpoint-1']);
    const again = stage1();
    const resumed = new Trainer(again.model, again.groups, fixtureSource(), goldenOptions(3));
    loadCheckpoint(listCheckpoints(out.path)[0]!, resumed, again.parameters, { run: 'a' });
    assert.equal(resumed.step, 1);
    await trainer.close();
  } finally {
    out.remove();
  }
});

const root = tempDir('llava-bad-');
const model = join(root.path, 'model');
test.before(async () => {
  writeSmallLlava(model);
  await writeInstructionData(root.path, 12, 'caption');
});
test.after(() => root.remove());

async function train(values: Record<string, unknown>): Promise<{ code: number; out: string }> {
  const path = join(root.path, `recipe-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    path,
    stringify({
      stage: 'pretrain',
      model_name_or_path: model,
      preprocessor_config: join(model, 'preprocessor_config.json'),
      image_folder: join(root.path, 'images'),
      data_path: join(root.path, 'caption.json'),
      version: 'plain',
      per_device_train_batch_size: 2,
      learning_rate: 1e-3,
      save_steps: 0,
      output_dir: join(root.path, 'out', Math.random().toString(36).slice(2)),
      ...values,
    }),
  );
  const lines: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = console.error = (...args: unknown[]) => void lines.push(args.join(' '));
  try {
    return { code: await run(['--recipe', path, '--no-progress']), out: lines.join('\n') };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

test('an empty dataset stops before training, naming the file', async () => {
  const empty = join(root.path, 'empty.json');
  writeFileSync(empty, '[]');
  await assert.rejects(train({ data_path: empty }), new RegExp(`${empty}: the dataset is empty`));
});

test('a missing image: on_bad_sample skip counts it and trains on; error stops naming the sample', async () => {
  const data = join(root.path, 'missing.json');
  const records = JSON.parse((await import('node:fs')).readFileSync(join(root.path, 'caption.json'), 'utf8'));
  records[3].image = 'no-such-image.png';
  writeFileSync(data, JSON.stringify(records));
  const skipped = await train({ data_path: data, on_bad_sample: 'skip' });
  assert.equal(skipped.code, 0, skipped.out);
  assert.match(skipped.out, /1 bad samples were skipped/);
  await assert.rejects(
    train({ data_path: data, on_bad_sample: 'error' }),
    /missing\.json:\d+ \(id s3\).*no-such-image\.png/s,
  );
});

test('samples with every label masked are counted and stop the run above max_fully_masked_share', async () => {
  // model_max_length 2 keeps BOS and the image placeholder only: no caption token is left to supervise.
  await assert.rejects(
    train({ model_max_length: 2, max_fully_masked_share: 0.5 }),
    /10 of 10 samples so far have no supervised token \(first: s\d+, s\d+, s\d+\); tokenization mismatches: 0; over max_fully_masked_share 0\.5/,
  );
});

test('a run that cannot fit in memory stops before step 1 with the estimate', async () => {
  await assert.rejects(
    train({ per_device_train_batch_size: 1000000, model_max_length: 100000 }),
    /the run needs about [\d.]+ GiB but this machine has [\d.]+ GiB .*lower per_device_train_batch_size or model_max_length/,
  );
  rmSync(join(root.path, 'out'), { recursive: true, force: true });
});
