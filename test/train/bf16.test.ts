// bf16 with fp32 master weights (the reference's --bf16): the model computes in bf16, AdamW updates fp32 masters
// with fp32 moments, the model's weights are the masters rounded after each step; the golden stage-2 losses are
// met within bf16's precision, and checkpoints hold the fp32 masters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, scope } from '../../src/torch/index.js';
import { openSafetensors } from '../../src/io/tensors.js';
import { listCheckpoints, saveCheckpoint } from '../../src/train/checkpoint.js';
import { applyStage } from '../../src/train/trainability.js';
import { noDecayNames, optimizerGroups } from '../../src/train/param-groups.js';
import { Trainer, type MicroBatchSource } from '../../src/train/trainer.js';
import { maxAbsDiff } from '../helpers/golden.js';
import { assertArrayClose } from '../helpers/close.js';
import { fixtureSource, floats, goldenOptions, loadTiny, meta, tempDir, train } from './helpers.js';

/** The fixture batches with bf16 pixels, as the bf16 vision tower takes them. */
function bf16Source(): MicroBatchSource {
  const source = fixtureSource();
  return {
    perEpoch: source.perEpoch,
    async *epoch(e: number, start: number) {
      const it = source.epoch(e, start);
      for (let r = await it.next(); !r.done; r = await it.next())
        yield { ...r.value, pixelValues: r.value.pixelValues!.to('bfloat16') };
    },
  };
}

test('bf16: fp32 masters and moments, weights = rounded masters, golden stage-2 losses within bf16 precision', async () => {
  const model = loadTiny();
  noGrad(() => {
    const params = new Map(model.namedParameters());
    for (const name of meta.stage1.trainable as string[])
      params.get(name)!.copy_(train.fixture(`stage1.final.${name}`));
  });
  model.to('bfloat16');
  const { parameters } = applyStage(model, 'finetune');
  const groups = optimizerGroups(parameters, noDecayNames(model), { lr: 2e-4, weightDecay: 0.1, projectorLr: 5e-4 });
  const trainer = new Trainer(model, groups, bf16Source(), goldenOptions(3));
  const masters = trainer.stateParameters(parameters);
  assert.ok(masters.every(([, m]) => m.dtype === 'float32'));
  assert.ok(parameters.every(([, p]) => p.dtype === 'bfloat16'));
  const losses: number[] = [];
  const out = tempDir('llava-bf16-');
  try {
    while (!trainer.done) {
      const m = await trainer.trainStep();
      losses.push(m.loss);
      scope(() => {
        for (const [i, [name, p]] of parameters.entries())
          assert.equal(maxAbsDiff(p, masters[i]![1].to('bfloat16')), 0, `${name} is not its rounded master`);
      });
    }
    const state = trainer.optimizer.stateDict().state;
    assert.ok([...state.values()].every((s) => s.expAvg.dtype === 'float32' && s.expAvgSq.dtype === 'float32'));
    // The masters hold what bf16 cannot: some elements differ from their bf16 rounding.
    const [, q] = masters.find(([n]) => n.endsWith('layers.0.self_attn.q_proj.weight'))!;
    assert.ok(scope(() => q.sub(q.to('bfloat16').to('float32')).abs().max().item()) > 0);
    assertArrayClose(losses, floats(train.fixture('stage2.loss')), { atol: 0, rtol: 2e-2 });
    saveCheckpoint(out.path, trainer, parameters, { fingerprint: {}, logHistory: [], keepLast: 1 });
    const saved = openSafetensors(`${listCheckpoints(out.path).at(-1)!}/trainable.safetensors`);
    const t = saved.readTensor('language_model.model.layers.0.self_attn.q_proj.weight');
    assert.equal(t.dtype, 'float32');
    assert.equal(maxAbsDiff(t, q), 0, 'the checkpoint holds the fp32 master');
    saved.close();
  } finally {
    out.remove();
    await trainer.close();
  }
});
