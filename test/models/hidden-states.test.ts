// Per-layer hidden states are kept only when asked for: every layer's output is recorded as it
// is made, and once the forward pass returns all but the ones still needed must be disposed.
// LLaVA keeps only its vision feature layer and never runs the layers after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import {
  CLIPVisionModel,
  clipVisionConfig,
  llamaConfig,
  LlamaForCausalLM,
  llavaConfig,
  LlavaForConditionalGeneration,
} from '../../src/models/index.js';
import type { Module } from '../../src/nn/index.js';
import { golden, maxAbsDiff } from '../helpers/golden.js';

/** Records the output of every layer's forward; returns the list it fills. */
function recordOutputs(layers: Iterable<Module & { forward(...a: never[]): T.Tensor }>): T.Tensor[] {
  const outputs: T.Tensor[] = [];
  for (const layer of layers) {
    const forward = layer.forward.bind(layer) as (...a: unknown[]) => T.Tensor;
    (layer as { forward: unknown }).forward = (...a: unknown[]) => {
      const out = forward(...a);
      outputs.push(out);
      return out;
    };
  }
  return outputs;
}

const alive = (ts: T.Tensor[]) => ts.map((t) => !t.isDisposed);

const text = (layers: number) =>
  llamaConfig({
    vocab_size: 64,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: layers,
    num_attention_heads: 2,
  });
const vision = (layers: number) =>
  clipVisionConfig({
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: layers,
    num_attention_heads: 2,
    image_size: 8,
    patch_size: 4,
  });
const ids = T.tensor(BigInt64Array.from([1n, 5n, 9n, 3n]), [1, 4]);
const pixels = T.zeros([1, 3, 8, 8]);

test('LLaMA: without outputHiddenStates no per-layer state is returned or kept', () => {
  const model = new LlamaForCausalLM(text(4));
  const outputs = recordOutputs(model.model.layers);
  const out = T.noGrad(() => model.forward({ inputIds: ids }));
  assert.equal(out.hiddenStates, undefined);
  assert.deepEqual(alive(outputs), [false, false, false, false], 'every layer output was let go');
  outputs.length = 0;
  const asked = T.noGrad(() => model.forward({ inputIds: ids, outputHiddenStates: true }));
  assert.equal(asked.hiddenStates!.length, 5);
  // the last layer's output is replaced by its normed form, as in transformers
  assert.deepEqual(alive(outputs), [true, true, true, false]);
  assert.deepEqual(alive(asked.hiddenStates!), [true, true, true, true, true]);
});

test('CLIP: without outputHiddenStates no per-layer state is returned or kept', () => {
  const model = new CLIPVisionModel(vision(4));
  const outputs = recordOutputs(model.vision_model.encoder.layers);
  const out = T.noGrad(() => model.forward({ pixelValues: pixels }));
  assert.equal(out.hiddenStates, undefined);
  assert.deepEqual(alive(outputs), [false, false, false, true], 'only the last hidden state is left');
  const asked = T.noGrad(() => model.forward({ pixelValues: pixels, outputHiddenStates: true }));
  assert.deepEqual(alive(asked.hiddenStates!), [true, true, true, true, true]);
});

test('LLaVA keeps only the vision layer it reads, and its logits are still the golden ones', () => {
  const make = (layers: number) =>
    new LlavaForConditionalGeneration(
      llavaConfig({
        model_type: 'llava',
        image_token_index: 63,
        vision_feature_layer: -2,
        text_config: {
          vocab_size: 64,
          hidden_size: 16,
          intermediate_size: 32,
          num_hidden_layers: 1,
          num_attention_heads: 2,
        },
        vision_config: {
          hidden_size: 16,
          intermediate_size: 32,
          num_hidden_layers: layers,
          num_attention_heads: 2,
          image_size: 8,
          patch_size: 4,
        },
      }),
    );
  const model6 = make(6);
  const outputs = recordOutputs(model6.vision_tower.vision_model.encoder.layers);
  const features = T.noGrad(() => model6.selectedVisionFeatures(pixels));
  assert.deepEqual(features.shape, [1, 4, 16]);
  // layer -2 of 6 is the output of layer 5: layer 6 never runs, layers 1-4 are let go
  assert.deepEqual(alive(outputs), [false, false, false, false, true]);

  const { dir, fixture } = golden('llava_tiny');
  const model = LlavaForConditionalGeneration.fromPretrained(dir);
  const out = T.noGrad(() =>
    model.forward({
      inputIds: fixture('input_ids'),
      attentionMask: fixture('attention_mask'),
      pixelValues: fixture('pixel_values'),
    }),
  );
  assert.ok(maxAbsDiff(out.logits, fixture('logits')) <= 1e-5);
  assert.equal(out.hiddenStates, undefined);
});
