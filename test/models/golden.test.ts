// Numerical equality with Hugging Face transformers 4.40.2 on the golden fixtures: logits and
// hidden states within 1e-5 where attention_mask is 1, loss within 1e-5, parameter gradients
// within 1e-5 of their largest magnitude, greedy tokens identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { CLIPVisionModel, LlamaForCausalLM, LlavaForConditionalGeneration } from '../../src/models/index.js';
import { golden, ids, maxAbsDiff } from '../helpers/golden.js';

const gradientChecks = (keys: string[], fixture: (k: string) => T.Tensor, param: (name: string) => T.Tensor) => {
  const grads = keys.filter((k) => k.startsWith('grad.'));
  assert.ok(grads.length >= 7, 'the fixture lists parameter gradients');
  for (const key of grads) {
    const want = fixture(key);
    const got = param(key.slice('grad.'.length)).grad;
    assert.ok(got, `${key}: no gradient`);
    const rel = maxAbsDiff(got, want) / want.abs().max().item();
    assert.ok(rel <= 1e-5, `${key}: max diff ${rel} of the largest gradient`);
  }
};

for (const name of ['llama_tiny', 'llama_tiny_gqa']) {
  test(`${name}: logits, hidden states, loss and gradients equal transformers`, () =>
    T.scope(() => {
      const { dir, fixture, keys } = golden(name);
      const model = LlamaForCausalLM.fromPretrained(dir);
      const mask = fixture('attention_mask');
      const out = model.forward({ inputIds: fixture('input_ids'), attentionMask: mask, outputHiddenStates: true });
      assert.ok(maxAbsDiff(out.logits, fixture('logits'), mask) <= 1e-5);
      const hidden = fixture('hidden_states');
      assert.equal(out.hiddenStates!.length, hidden.size(0));
      out.hiddenStates!.forEach((h, i) =>
        assert.ok(maxAbsDiff(h, hidden.select(0, i), mask) <= 1e-5, `hidden state ${i}`),
      );

      const withLoss = model.forward({
        inputIds: fixture('input_ids'),
        attentionMask: mask,
        labels: fixture('labels'),
      });
      assert.ok(
        Math.abs(withLoss.loss!.item() - fixture('loss').item()) <= 1e-5,
        `loss ${withLoss.loss!.item()} vs ${fixture('loss').item()}`,
      );
      withLoss.loss!.backward();
      const params = model.stateDict();
      gradientChecks(keys, fixture, (n) => params.get(n)!);
    }));

  for (const form of ['gen', 'gen_leftpad']) {
    test(`${name}: greedy generation (${form}) gives transformers' tokens and scores`, async () => {
      const { dir, fixture } = golden(name);
      const model = LlamaForCausalLM.fromPretrained(dir);
      const scores: T.Tensor[] = [];
      const prompt = fixture(`${form}.prompt_ids`);
      const sequences = await model.generate({
        inputIds: prompt,
        attentionMask: fixture(`${form}.prompt_attention_mask`),
        maxNewTokens: 8,
        eosTokenId: null,
        onStep: ({ logits }) => scores.push(T.keep(logits.clone())),
      });
      assert.deepEqual(ids(sequences.narrow(1, 0, prompt.size(1))), ids(prompt), 'sequences start with the prompt');
      assert.deepEqual(ids(sequences.narrow(1, prompt.size(1), 8)), ids(fixture(`${form}.new_tokens`)));
      assert.ok(maxAbsDiff(T.stack(scores, 1), fixture(`${form}.scores`)) <= 1e-5);
    });
  }
}

test('clip_vision_tiny: hidden states, last hidden state and pooled output equal transformers', () =>
  T.scope(() => {
    const { dir, fixture } = golden('clip_vision_tiny');
    const out = CLIPVisionModel.fromPretrained(dir).forward({
      pixelValues: fixture('pixel_values'),
      outputHiddenStates: true,
    });
    assert.ok(maxAbsDiff(out.lastHiddenState, fixture('last_hidden_state')) <= 1e-5);
    assert.ok(maxAbsDiff(out.poolerOutput, fixture('pooler_output')) <= 1e-5);
    assert.equal(out.hiddenStates!.length, fixture('hidden_states').size(0));
    out.hiddenStates!.forEach((h, i) =>
      assert.ok(maxAbsDiff(h, fixture('hidden_states').select(0, i)) <= 1e-5, `hidden state ${i}`),
    );
  }));

test('llava_tiny: image features, logits (both placeholder forms), loss and gradients equal transformers', () =>
  T.scope(() => {
    const { dir, fixture, keys } = golden('llava_tiny');
    const model = LlavaForConditionalGeneration.fromPretrained(dir);
    const pixels = fixture('pixel_values').requiresGrad_();
    assert.ok(maxAbsDiff(model.selectedVisionFeatures(pixels), fixture('vision_selected_features')) <= 1e-5);
    assert.ok(maxAbsDiff(model.imageFeatures(pixels), fixture('image_features')) <= 1e-5);
    const prepared = model.prepareInputs({
      inputIds: fixture('input_ids'),
      attentionMask: fixture('attention_mask'),
      pixelValues: pixels,
    });
    assert.ok(maxAbsDiff(prepared.inputsEmbeds!, fixture('merged.inputs_embeds')) <= 1e-5);
    assert.deepEqual(ids(prepared.attentionMask!), ids(fixture('merged.attention_mask')));
    assert.deepEqual(ids(prepared.positionIds!), ids(fixture('merged.position_ids')));

    const out = model.forward({
      inputIds: fixture('input_ids'),
      attentionMask: fixture('attention_mask'),
      pixelValues: pixels,
      labels: fixture('labels'),
    });
    assert.ok(maxAbsDiff(out.logits, fixture('logits')) <= 1e-5);
    assert.ok(Math.abs(out.loss!.item() - fixture('loss').item()) <= 1e-5);
    out.loss!.backward();
    const params = model.stateDict();
    gradientChecks(keys, fixture, (n) => (n === 'pixel_values' ? pixels : params.get(n)!));

    const expanded = fixture('input_ids_expanded');
    const pre = model.forward({ inputIds: expanded, attentionMask: T.onesLike(expanded), pixelValues: pixels });
    assert.ok(maxAbsDiff(pre.logits, fixture('logits')) <= 1e-5, 'pre-expanded prompts give the same logits');
  }));

test("llava_tiny: greedy generation with images gives transformers' tokens and scores", async () => {
  const { dir, fixture } = golden('llava_tiny');
  const model = LlavaForConditionalGeneration.fromPretrained(dir);
  const scores: T.Tensor[] = [];
  const sequences = await model.generate({
    inputIds: fixture('input_ids'),
    attentionMask: fixture('attention_mask'),
    pixelValues: fixture('pixel_values'),
    maxNewTokens: 8,
    eosTokenId: null,
    onStep: ({ logits }) => scores.push(T.keep(logits.clone())),
  });
  assert.deepEqual(ids(sequences.narrow(1, 10, 8)), ids(fixture('gen.new_tokens')));
  assert.ok(maxAbsDiff(T.stack(scores, 1), fixture('gen.scores')) <= 1e-5);
});
