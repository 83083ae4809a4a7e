// The fused decoder layer (llava::decoder_layer, taken by LlamaDecoderLayer over a cache outside autograd) against
// the modules it replaces. A layer whose MLP forward is an own property (as a LoRA's or a hook's would be) runs its
// modules one by one with the same kernels, so both paths' logits must be bitwise equal: grouped-query heads with
// attention biases, a padded batch, the serving SlotCache, and an attached LoRA (where the fused path must step
// aside). Golden greedy tokens through the fused path: test/models/golden.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { LlamaForCausalLM, llamaConfig, type DecoderInput } from '../../src/models/index.js';
import { LlamaMLP } from '../../src/models/llama.js';
import { KVCache } from '../../src/models/kv-cache.js';
import { SlotCache } from '../../src/serve/slot-cache.js';
import { LoraAdapter, loraTargets } from '../../src/train/index.js';
import { Module } from '../../src/nn/index.js';

const config = llamaConfig({
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 101,
  attention_bias: true,
  max_position_embeddings: 64,
});
T.manualSeed(3);
const lm = new LlamaForCausalLM(config);
// Random biases and norm weights too: the initial zeros and ones would hide a bias or norm weight dropped.
T.noGrad(() => {
  for (const [name, p] of lm.namedParameters())
    if (name.endsWith('bias') || name.endsWith('layernorm.weight')) p.copy_(T.randn(p.shape).mul(0.5).add(1));
});

const floats = (t: T.Tensor) => Array.from(t.toTypedArray() as Float32Array);
const cacheFor = (batch: number) =>
  new KVCache(config.num_hidden_layers, 16, { batch, kvHeads: 2, headDim: 16 }, 'float32');

/** fn() with every layer running its modules one by one: an own MLP forward turns the fused path off. */
function unfused<R>(fn: () => R): R {
  const mlps = lm.model.layers.items.map((layer) => layer.mlp);
  for (const mlp of mlps) mlp.forward = (x: T.Tensor) => LlamaMLP.prototype.forward.call(mlp, x);
  try {
    return fn();
  } finally {
    for (const mlp of mlps) delete (mlp as Partial<LlamaMLP>).forward;
  }
}

/** Logits of each forward in `steps` over a fresh cache, outside autograd: fused, or the modules one by one. */
function run(fused: boolean, batch: number, steps: () => DecoderInput[]): number[][] {
  const cache = cacheFor(batch);
  const forward = (input: DecoderInput) => T.scope(() => floats(lm.forward({ ...input, cache }).logits));
  try {
    return T.noGrad(() => (fused ? steps().map(forward) : unfused(() => steps().map(forward))));
  } finally {
    cache.dispose();
  }
}

const ids = (rows: number[][]) => T.tensor(BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0]!.length]);
const mask = (rows: number[][]) => ids(rows);

test('a prefill and decode steps through the fused layer equal the modules bitwise (GQA, biases)', () => {
  const steps = () => [{ inputIds: ids([[5, 9, 2, 77, 31]]) }, { inputIds: ids([[8]]) }, { inputIds: ids([[40]]) }];
  const fused = run(true, 1, steps);
  const modules = run(false, 1, steps);
  assert.equal(fused.length, 3);
  fused.forEach((logits, i) => assert.deepEqual(logits, modules[i], `forward ${i}`));
});

test('a left-padded batch decodes bitwise as the modules do, the padding masked out', () => {
  const steps = () => [
    {
      inputIds: ids([
        [0, 0, 12, 13, 14],
        [3, 4, 12, 13, 14],
      ]),
      attentionMask: mask([
        [0, 0, 1, 1, 1],
        [1, 1, 1, 1, 1],
      ]),
    },
    { inputIds: ids([[6], [6]]), attentionMask: mask([[0, 0, 1, 1, 1, 1], Array(6).fill(1)]) },
  ];
  const fused = run(true, 2, steps);
  fused.forEach((logits, i) => assert.deepEqual(logits, run(false, 2, steps)[i], `forward ${i}`));
  // The padded row's decode sees only its own tokens, so it differs from the unpadded row.
  const last = fused[1]!;
  assert.notDeepEqual(last.slice(0, config.vocab_size), last.slice(config.vocab_size));
});

test("the serving SlotCache's batched decode step is bitwise the modules'", () => {
  const logits = (fused: boolean) => {
    const cache = new SlotCache(config.num_hidden_layers, 2, 16, { kvHeads: 2, headDim: 16 }, 'float32');
    const forward = (input: DecoderInput) =>
      T.scope(() => {
        const f = () => T.noGrad(() => floats(lm.forward({ ...input, cache }).logits.select(1, -1)));
        return fused ? f() : unfused(f);
      });
    try {
      cache.beginPrefill(0, 3);
      forward({ inputIds: ids([[7, 8, 9]]) });
      cache.beginPrefill(1, 5); // longer: slot 0 shifts right
      forward({ inputIds: ids([[1, 2, 3, 4, 5]]) });
      const { attentionMask, positionIds } = cache.beginDecode(2);
      return forward({ inputIds: ids([[10], [11]]), attentionMask, positionIds });
    } finally {
      cache.dispose();
    }
  };
  assert.deepEqual(logits(true), logits(false));
});

test('with a LoRA attached the layer runs its modules, so the adapter counts', () => {
  const holder = new (class extends Module {
    readonly language_model = this.registerModule('language_model', lm);
  })();
  const adapter = new LoraAdapter({ r: 4, alpha: 8, dropout: 0 }, loraTargets(holder));
  T.noGrad(() => adapter.layers.forEach((layer) => layer.lora_B.weight.copy_(T.randn(layer.lora_B.weight.shape))));
  const steps = () => [{ inputIds: ids([[5, 9, 2]]) }, { inputIds: ids([[8]]) }];
  const base = run(true, 1, steps);
  adapter.attach();
  try {
    const adapted = run(true, 1, steps);
    adapted.forEach((logits, i) => assert.deepEqual(logits, run(false, 1, steps)[i], `forward ${i}`));
    assert.notDeepEqual(adapted[1], base[1]);
  } finally {
    adapter.detach();
  }
});

test('the fused operator refuses to run where autograd must record', () => {
  const cache = cacheFor(1);
  const layer = lm.model.layers.items[0]!;
  const { cos, sin } = lm.model.rotary.forward(ids([[0]]), 'float32');
  const x = T.randn([1, 1, 64]);
  const a = layer.self_attn;
  const weights = [
    layer.input_layernorm.weight,
    a.q_proj.weight,
    a.k_proj.weight,
    a.v_proj.weight,
    a.o_proj.weight,
    layer.post_attention_layernorm.weight,
    layer.mlp.gate_proj.weight,
    layer.mlp.up_proj.weight,
    layer.mlp.down_proj.weight,
  ];
  assert.throws(
    () => T.enableGrad(() => T.decoderLayer(x, weights, [], { cos, sin }, undefined, cache.window(0, 1), 4, 1e-5)),
    /llava::decoder_layer runs outside autograd/,
  );
  assert.throws(
    () => T.noGrad(() => T.decoderLayer(x, weights.slice(1), [], { cos, sin }, undefined, cache.window(0, 1), 4, 1e-5)),
    /expected the layer's 9 weights, got 8/,
  );
  cache.dispose();
});
