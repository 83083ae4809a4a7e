// LlavaForConditionalGeneration.loss() projects only the positions that have a target through the head; its loss
// and every gradient must be forward()'s, which scores all positions (the golden stage tests check the trainer,
// which uses loss(), against the reference's fixtures).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { llavaConfig, LlavaForConditionalGeneration } from '../../src/models/index.js';
import { applyStage } from '../../src/train/trainability.js';

const IMAGE = 63;

function model(): LlavaForConditionalGeneration {
  T.manualSeed(1);
  const m = new LlavaForConditionalGeneration(
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
        num_hidden_layers: 2,
        num_attention_heads: 2,
        image_size: 16,
        patch_size: 8,
      },
    }),
  );
  applyStage(m, 'finetune');
  return m;
}

const i64 = (rows: number[][]) => T.tensor(BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0]!.length]);

test('loss() equals forward().loss, gradients included, with padding, prompts and image slots unscored', () => {
  // Row 2 right-padded; -100 marks the prompt; each row's image expands to 4 unscored slots.
  const inputIds = i64([
    [1, IMAGE, 5, 9, 2, 7, 8],
    [1, IMAGE, 4, 3, 6, 0, 0],
  ]);
  const batch = {
    inputIds,
    attentionMask: i64([
      [1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 0, 0],
    ]),
    labels: i64([
      [-100, -100, -100, 9, 2, 7, 8],
      [-100, -100, 4, 3, 6, 0, 0],
    ]),
    pixelValues: T.randn([2, 3, 16, 16]),
  };
  const m = model();
  const gradients = (loss: () => T.Tensor) => {
    const value = T.scope(() => {
      const l = loss();
      l.backward();
      return l.item();
    });
    const grads = m
      .namedParameters()
      .filter(([, p]) => p.grad)
      .map(([n, p]) => [n, p.grad!] as const);
    for (const p of m.parameters()) p.grad = undefined;
    return { value, grads };
  };
  const full = gradients(() => m.forward(batch).loss!);
  const only = gradients(() => m.loss(batch));
  assert.ok(Math.abs(only.value - full.value) <= 1e-6 * Math.abs(full.value), `${only.value} vs ${full.value}`);
  assert.deepEqual(
    only.grads.map(([n]) => n),
    full.grads.map(([n]) => n),
  );
  for (const [i, [name, g]] of only.grads.entries()) {
    const diff = g.sub(full.grads[i]![1]).abs().max().item();
    assert.ok(diff <= 1e-6, `${name}: gradients differ by ${diff}`);
  }
  m.dispose();
});

test('loss() without labels names what is missing', () => {
  const m = model();
  assert.throws(() => m.loss({ inputIds: i64([[1, 2, 3]]) }), /LLaVA: loss\(\) needs labels/);
  m.dispose();
});
