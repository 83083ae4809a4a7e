// Stage 1 trains the projector alone: the frozen vision tower runs without a graph (as the reference's
// torch.no_grad()), the frozen language model is back-propagated through for its input gradients only, and no
// frozen parameter requires or receives a gradient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { llavaConfig, LlavaForConditionalGeneration } from '../../src/models/index.js';
import { applyStage } from '../../src/train/trainability.js';

const IMAGE = 63;
const model = () => {
  T.manualSeed(0);
  return new LlavaForConditionalGeneration(
    llavaConfig({
      model_type: 'llava',
      image_token_index: IMAGE,
      text_config: {
        vocab_size: 64,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 2,
      },
      vision_config: {
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 3,
        num_attention_heads: 2,
        image_size: 16,
        patch_size: 8,
      },
    }),
  );
};

/** Whether grad mode was on while the tower ran, one entry per call. */
function recordGradMode(m: LlavaForConditionalGeneration): boolean[] {
  const modes: boolean[] = [];
  const hiddenState = m.vision_tower.hiddenState.bind(m.vision_tower);
  m.vision_tower.hiddenState = (pixels: T.Tensor, index: number) => {
    modes.push(T.isGradEnabled());
    return hiddenState(pixels, index);
  };
  return modes;
}

const batch = () => {
  const inputIds = T.tensor(BigInt64Array.from([1n, BigInt(IMAGE), 5n, 9n, 2n, 7n]), [1, 6]);
  return { inputIds, labels: inputIds.clone(), pixelValues: T.randn([1, 3, 16, 16]) };
};

test('stage 1: the frozen tower runs without a graph; only the projector requires and receives gradients', () => {
  const m = model();
  const modes = recordGradMode(m);
  applyStage(m, 'pretrain');
  T.scope(() => m.forward(batch()).loss!.backward());
  assert.deepEqual(modes, [false]);
  const named = m.namedParameters();
  const projector = named.filter(([n]) => n.startsWith('multi_modal_projector.')).map(([n]) => n);
  assert.equal(projector.length, 4);
  assert.deepEqual(
    named.filter(([, p]) => p.requiresGrad).map(([n]) => n),
    projector,
  );
  assert.deepEqual(
    named.filter(([, p]) => p.grad !== undefined).map(([n]) => n),
    projector,
  );
  m.dispose();
});

test('a tower with a trainable parameter, or pixels that require a gradient, still runs with a graph', () => {
  const m = model();
  const modes = recordGradMode(m);
  applyStage(m, 'pretrain');
  const pixels = T.randn([1, 3, 16, 16]).requiresGrad_(true);
  const features = m.selectedVisionFeatures(pixels);
  features.sum().backward();
  assert.ok(pixels.grad !== undefined, 'the pixels got no gradient');
  m.vision_tower.vision_model.pre_layrnorm.weight.requiresGrad = true;
  T.scope(() => m.forward(batch()).loss!.backward());
  assert.ok(m.vision_tower.vision_model.pre_layrnorm.weight.grad !== undefined, 'pre_layrnorm got no gradient');
  assert.deepEqual(modes, [true, true]);
  m.dispose();
});
