// The LoRA run of train_llava_tiny (PEFT 0.10, r 4, alpha 8): targets and PEFT names, the initial adapter's
// logits, merge_and_unload's weights and logits, 4 training steps (loss, lr, grad norm, final adapter and
// projector), the frozen hash, and the adapter saved in PEFT's layout (config fields, key names, values).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../../src/io/tensors.js';
import { openTorchBin } from '../../src/io/torch-bin-tensors.js';
import { noGrad, scope, type Tensor } from '../../src/torch/index.js';
import { applyStage } from '../../src/train/trainability.js';
import { noDecayNames, optimizerGroups } from '../../src/train/param-groups.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loadAdapter, loadAdapterWeights, saveAdapter } from '../../src/train/peft.js';
import { Trainer } from '../../src/train/trainer.js';
import { maxAbsDiff } from '../helpers/golden.js';
import { assertArrayClose } from '../helpers/close.js';
import { fixtureSource, floats, frozenSha256, goldenOptions, loadTiny, meta, tempDir, train } from './helpers.js';

const adapterDir = join(train.dir, 'lora_adapter');
const trainedDir = join(train.dir, 'lora_adapter_trained');
const lora = { r: 4, alpha: 8, dropout: 0 };

/** Our names in PEFT's in-memory form (base_model.model. prefix, adapter name 'default', wrapped base_layer). */
const pefts = (name: string) => 'base_model.model.' + name.replace(/\.(lora_[AB])\.weight$/, '.$1.default.weight');

function microBatch0() {
  const source = fixtureSource();
  return source
    .epoch(0, 0)
    .next()
    .then((r) => r.value!);
}

test('LoRA: every Linear of the LLM but lm_head; not the projector, not the CLIP tower', () => {
  const model = loadTiny();
  const { lora: adapter } = applyStage(model, 'lora', lora);
  assert.deepEqual(
    [...adapter!.layers.keys()].map((n) => 'base_model.model.' + n).sort(),
    [...meta.lora.wrapped_modules].sort(),
  );
  assert.ok([...adapter!.layers.keys()].every((n) => n.startsWith('language_model.model.layers.')));
});

test('LoRA: the initial adapter gives PEFT’s logits; merge_and_unload gives its weights and logits', async () => {
  const model = loadTiny();
  const adapter = loadAdapter(adapterDir, model);
  const batch = await microBatch0();
  const mask = train.fixture('lora.fixed.expanded_attention_mask');
  noGrad(() => {
    const out = model.forward(batch);
    assert.ok(maxAbsDiff(out.logits, train.fixture('lora.fixed.logits'), mask) <= 1e-4);
    assert.ok(Math.abs(out.loss!.item() - train.fixture('lora.fixed.loss').item()) <= 1e-5);
  });
  adapter.mergeAndUnload();
  const params = new Map(model.namedParameters());
  for (const key of train.keys.filter((k) => k.startsWith('lora.merged.'))) {
    const name = key.slice('lora.merged.'.length);
    assert.ok(maxAbsDiff(params.get(name)!, train.fixture(key)) <= 1e-6, name);
  }
  noGrad(() => {
    const out = model.forward(batch);
    assert.ok(maxAbsDiff(out.logits, train.fixture('lora.fixed.merged_logits'), mask) <= 1e-4);
    assert.ok(Math.abs(out.loss!.item() - train.fixture('lora.fixed.merged_loss').item()) <= 1e-5);
  });
});

test('LoRA run: 4 steps as Trainer + PEFT; saved in PEFT’s layout with its key names and config fields', async () => {
  const model = loadTiny();
  const { parameters, lora: adapter } = applyStage(model, 'lora', lora);
  const weights = openSafetensors(join(adapterDir, ADAPTER_WEIGHTS));
  loadAdapterWeights(adapter!, weights, adapterDir);
  weights.close();
  const groups = optimizerGroups(parameters, noDecayNames(model), { lr: 1e-3, weightDecay: 0 });
  assert.deepEqual(
    groups.map((g) => g.names.map(pefts)),
    meta.lora_train.param_groups.map((g: any) => g.params),
  );
  const targets = new Set(adapter!.layers.keys());
  const frozen = () =>
    model
      .namedParameters()
      .filter(([, p]) => !p.requiresGrad)
      .map(([n, p]) => {
        const module = n.slice(0, n.lastIndexOf('.'));
        return [targets.has(module) ? `base_model.model.${module}.base_layer.weight` : `base_model.model.${n}`, p] as [
          string,
          Tensor,
        ];
      });
  assert.equal(frozen().length, meta.lora_train.frozen_check.n_tensors);
  assert.equal(frozenSha256(frozen()), meta.lora_train.frozen_check.sha256_before);

  const trainer = new Trainer(model, groups, fixtureSource(), goldenOptions(2));
  assert.equal(trainer.totalSteps, 4);
  const losses: number[] = [];
  const norms: number[] = [];
  const lrs: number[] = [];
  while (!trainer.done) {
    const m = await trainer.trainStep();
    losses.push(m.loss);
    norms.push(m.gradNorm);
    lrs.push(...m.lrs);
  }
  await trainer.close();
  assertArrayClose(losses, floats(train.fixture('lora.train.loss')), { atol: 0, rtol: 1e-5 });
  assertArrayClose(norms, floats(train.fixture('lora.train.grad_norm')), { atol: 0, rtol: 1e-5 });
  assertArrayClose(lrs, meta.lora_train.lr_used_per_step_and_group.flat(), { atol: 1e-12, rtol: 1e-12 });
  assert.equal(frozenSha256(frozen()), meta.lora_train.frozen_check.sha256_after);

  const out = tempDir('llava-lora-');
  try {
    const projector = parameters.filter(([n]) => n.startsWith('multi_modal_projector.'));
    saveAdapter(out.path, adapter!, { baseModel: 'llava_tiny', nonLoraTrainables: projector });
    assert.deepEqual(
      JSON.parse(readFileSync(join(out.path, ADAPTER_CONFIG), 'utf8')),
      JSON.parse(readFileSync(join(trainedDir, ADAPTER_CONFIG), 'utf8')),
    );
    for (const [file, ours] of [
      [ADAPTER_WEIGHTS, openSafetensors(join(out.path, ADAPTER_WEIGHTS))],
      ['non_lora_trainables.safetensors', openSafetensors(join(out.path, 'non_lora_trainables.safetensors'))],
      ['non_lora_trainables.safetensors', openTorchBin(join(out.path, 'non_lora_trainables.bin'))],
    ] as const) {
      const theirs = openSafetensors(join(trainedDir, file));
      assert.deepEqual([...ours.names()].sort(), [...theirs.names()].sort(), file);
      scope(() => {
        for (const key of theirs.names()) {
          assert.ok(maxAbsDiff(ours.readTensor(key), theirs.readTensor(key)) <= 1e-5, `${file}: ${key}`);
          assert.ok(maxAbsDiff(ours.readTensor(key), train.fixture(`lora.final.${key}`)) <= 1e-5, key);
        }
      });
      ours.close();
      theirs.close();
    }
    // The saved folder loads onto a fresh base model and gives the trained model's outputs.
    const batch = await microBatch0();
    const trained = noGrad(() => model.forward(batch).logits);
    const fresh = loadTiny();
    loadAdapter(out.path, fresh);
    const mask = train.fixture('lora.fixed.expanded_attention_mask');
    noGrad(() => assert.ok(maxAbsDiff(fresh.forward(batch).logits, trained, mask) <= 1e-6));
  } finally {
    out.remove();
  }
});
