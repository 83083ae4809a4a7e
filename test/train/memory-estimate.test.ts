// The memory estimate printed before step 1, against numbers worked out by hand from its formula: weights, fp32
// gradients and AdamW moments of the trainable part, Korthikanti et al.'s per-layer activations (all layers, or one
// layer plus every layer's input with recompute), and two fp32 [K, V] tensors for the labelled positions only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LlavaConfig } from '../../src/models/index.js';
import { estimateMemory, type ParameterCounts } from '../../src/train/memory.js';

const config = {
  text_config: { hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, vocab_size: 100 },
} as unknown as LlavaConfig;
const counts: ParameterCounts = {
  vision_tower: { total: 600, trainable: 0 },
  projector: { total: 100, trainable: 100 },
  language_model: { total: 300, trainable: 0 },
  lora: { total: 0, trainable: 0 },
};

test('estimate by hand: 2 × 10 positions (6 of them text), 64 wide, 2 layers, vocab 100, fp32', () => {
  const run = { batchSize: 2, sequenceLength: 10, textLength: 6, bf16: false };
  const plain = estimateMemory(config, counts, { ...run, gradientCheckpointing: false });
  // per layer: 10·2·64·(34 + 5·4·10/64)·2 = 95040 bytes; logits: 6·2·100·4·2 = 9600
  assert.deepEqual(plain, {
    parameters: 4000,
    gradients: 400,
    optimizer: 800,
    activations: 2 * 95040 + 9600,
    total: 4000 + 400 + 800 + 2 * 95040 + 9600,
  });
  // recompute: one layer's activations plus both layers' inputs (10·2·64·4 each)
  const recompute = estimateMemory(config, counts, { ...run, gradientCheckpointing: true });
  assert.equal(recompute.activations, 95040 + 2 * 5120 + 9600);
});

test('bf16: 2-byte weights plus fp32 masters of the trainable part; half-width activations', () => {
  const e = estimateMemory(config, counts, {
    batchSize: 2,
    sequenceLength: 10,
    textLength: 6,
    bf16: true,
    gradientCheckpointing: false,
  });
  assert.equal(e.parameters, 1000 * 2 + 100 * 4);
  assert.equal(e.activations, 2 * 47520 + 9600);
});
