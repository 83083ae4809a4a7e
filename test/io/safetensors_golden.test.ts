// Every safetensors file of the golden fixtures (written by transformers 4.40.2 / safetensors) reads through
// the raw reader with the names, shapes and dtypes that meta.json and the configs say, its data agrees
// with what the README says about it across files, and the writer reproduces each file byte for byte.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import type { RawTensor, TensorToWrite } from '../../src/io/safetensors.js';
import { GOLDEN_DIR, scratchDir } from './helpers.js';

type Json = Record<string, any>;
const readJson = (...parts: string[]): Json => JSON.parse(readFileSync(join(GOLDEN_DIR, ...parts), 'utf8'));

/** Every .safetensors file under the golden folders, as "folder/file". */
const goldenFiles = readdirSync(GOLDEN_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) =>
    readdirSync(join(GOLDEN_DIR, d.name))
      .filter((f) => f.endsWith('.safetensors'))
      .map((f) => `${d.name}/${f}`),
  )
  .sort();

/** name -> [dtype, shape] of a file, read through the reader. */
function layout(file: SafetensorsFile): Record<string, [string, number[]]> {
  return Object.fromEntries(
    file.names().map((n) => {
      const i = file.info(n);
      return [n, [i.dtype, i.shape]];
    }),
  );
}

// Hugging Face parameter names and shapes, from the config (the README's table), for the models here.
function llamaParameters(c: Json, prefix: string): Record<string, [string, number[]]> {
  const [h, inter, v] = [c.hidden_size, c.intermediate_size, c.vocab_size];
  const kv = (c.num_key_value_heads ?? c.num_attention_heads) * (h / c.num_attention_heads);
  const p: Record<string, [string, number[]]> = {
    [`${prefix}model.embed_tokens.weight`]: ['F32', [v, h]],
    [`${prefix}model.norm.weight`]: ['F32', [h]],
    [`${prefix}lm_head.weight`]: ['F32', [v, h]],
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const at = `${prefix}model.layers.${l}.`;
    Object.assign(p, {
      [`${at}input_layernorm.weight`]: ['F32', [h]],
      [`${at}post_attention_layernorm.weight`]: ['F32', [h]],
      [`${at}self_attn.q_proj.weight`]: ['F32', [h, h]],
      [`${at}self_attn.k_proj.weight`]: ['F32', [kv, h]],
      [`${at}self_attn.v_proj.weight`]: ['F32', [kv, h]],
      [`${at}self_attn.o_proj.weight`]: ['F32', [h, h]],
      [`${at}mlp.gate_proj.weight`]: ['F32', [inter, h]],
      [`${at}mlp.up_proj.weight`]: ['F32', [inter, h]],
      [`${at}mlp.down_proj.weight`]: ['F32', [h, inter]],
    });
  }
  return p;
}

function clipVisionParameters(c: Json, prefix: string): Record<string, [string, number[]]> {
  const [d, inter, patch] = [c.hidden_size, c.intermediate_size, c.patch_size];
  const at = `${prefix}vision_model.`;
  const norm = (name: string): Record<string, [string, number[]]> => ({
    [`${name}.weight`]: ['F32', [d]],
    [`${name}.bias`]: ['F32', [d]],
  });
  const p: Record<string, [string, number[]]> = {
    [`${at}embeddings.class_embedding`]: ['F32', [d]],
    [`${at}embeddings.patch_embedding.weight`]: ['F32', [d, c.num_channels ?? 3, patch, patch]],
    [`${at}embeddings.position_embedding.weight`]: ['F32', [(c.image_size / patch) ** 2 + 1, d]],
    ...norm(`${at}pre_layrnorm`),
    ...norm(`${at}post_layernorm`),
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const layer = `${at}encoder.layers.${l}.`;
    Object.assign(p, norm(`${layer}layer_norm1`), norm(`${layer}layer_norm2`), {
      [`${layer}mlp.fc1.weight`]: ['F32', [inter, d]],
      [`${layer}mlp.fc1.bias`]: ['F32', [inter]],
      [`${layer}mlp.fc2.weight`]: ['F32', [d, inter]],
      [`${layer}mlp.fc2.bias`]: ['F32', [d]],
    });
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      Object.assign(p, {
        [`${layer}self_attn.${proj}.weight`]: ['F32', [d, d]],
        [`${layer}self_attn.${proj}.bias`]: ['F32', [d]],
      });
    }
  }
  return p;
}

function expectedModel(folder: string): Record<string, [string, number[]]> {
  const c = readJson(folder, 'config.json');
  if (c.model_type === 'llama') return llamaParameters(c, '');
  if (c.model_type === 'clip_vision_model') return clipVisionParameters(c, '');
  assert.equal(c.model_type, 'llava');
  const [h, d] = [c.text_config.hidden_size, c.vision_config.hidden_size];
  return {
    ...llamaParameters(c.text_config, 'language_model.'),
    ...clipVisionParameters(c.vision_config, 'vision_tower.'),
    'multi_modal_projector.linear_1.weight': ['F32', [h, d]],
    'multi_modal_projector.linear_1.bias': ['F32', [h]],
    'multi_modal_projector.linear_2.weight': ['F32', [h, h]],
    'multi_modal_projector.linear_2.bias': ['F32', [h]],
  };
}

test('the golden folders hold the ten safetensors files this test covers', () => {
  assert.deepEqual(goldenFiles, [
    'clip_preprocess/fixtures.safetensors',
    'clip_vision_tiny/fixtures.safetensors',
    'clip_vision_tiny/model.safetensors',
    'llama_tiny/fixtures.safetensors',
    'llama_tiny/model.safetensors',
    'llama_tiny_gqa/fixtures.safetensors',
    'llama_tiny_gqa/model.safetensors',
    'llava_tiny/fixtures.safetensors',
    'llava_tiny/model.safetensors',
    'train_llava_tiny/fixtures.safetensors',
  ]);
});

for (const relative of goldenFiles) {
  const [folder, name] = relative.split('/');
  test(`${relative}: names, shapes and dtypes match ${name === 'model.safetensors' ? 'config.json' : 'meta.json'}, every tensor reads`, () => {
    const file = SafetensorsFile.open(join(GOLDEN_DIR, relative));
    assert.deepEqual({ ...file.metadata }, { format: 'pt' });
    let expected: Record<string, [string, number[]]>;
    if (name === 'model.safetensors') {
      expected = expectedModel(folder);
    } else {
      const dtypes: Record<string, string> = { float32: 'F32', int64: 'I64' };
      const tensors: Json = readJson(folder, 'meta.json').tensors;
      expected = Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, [dtypes[t.dtype], t.shape]]));
    }
    assert.deepEqual(layout(file), expected);
    for (const n of file.names()) {
      const raw = file.readRaw(n);
      assert.equal(raw.data.byteLength, raw.shape.reduce((a, b) => a * b, 1) * (raw.dtype === 'F32' ? 4 : 8), n);
    }
    file.close();
  });

  // The model files come from save_pretrained, i.e. the reference safetensors writer, so ours must match them
  // byte for byte. The fixtures were written in plain name order, I64 and F32 interleaved, which the reference
  // never does (it groups by dtype alignment): for them the rewrite must hold the same tensors, in our layout.
  test(`${relative}: rewriting its tensors reproduces ${name === 'model.safetensors' ? 'the file byte for byte' : 'every tensor'}`, () => {
    const path = join(GOLDEN_DIR, relative);
    const file = SafetensorsFile.open(path);
    const tensors: Record<string, TensorToWrite> = Object.fromEntries(
      file.names().map((n) => {
        const { dtype, shape } = file.info(n);
        return [n, { dtype, shape, data: () => file.readRaw(n).data }];
      }),
    );
    const copy = join(scratchDir(), name);
    writeSafetensors(copy, tensors, file.metadata);
    if (name === 'model.safetensors') {
      assert.ok(readFileSync(copy).equals(readFileSync(path)));
    } else {
      const rewritten = SafetensorsFile.open(copy);
      assert.deepEqual(rewritten.names().sort(), file.names().sort());
      for (const n of file.names()) assert.deepEqual(rewritten.readRaw(n), file.readRaw(n), n);
      rewritten.close();
    }
    file.close();
  });
}

// Cross-file facts from meta.json's descriptions and the README, checked on the bytes read.
const open = (relative: string) => SafetensorsFile.open(join(GOLDEN_DIR, relative));
const int64s = (raw: RawTensor) =>
  [...new BigInt64Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength / 8)].map(Number);
/** Bytes of row `i` of a 2-D F32 tensor. */
const row = (raw: RawTensor, i: number) => raw.data.subarray(i * raw.shape[1] * 4, (i + 1) * raw.shape[1] * 4);

test('llama_tiny fixtures: int64 ids, mask and labels are as meta.json describes them', () => {
  const f = open('llama_tiny/fixtures.safetensors');
  const ids = int64s(f.readRaw('input_ids'));
  const mask = int64s(f.readRaw('attention_mask'));
  const labels = int64s(f.readRaw('labels'));
  for (let i = 0; i < 32; i++) {
    const [r, t] = [Math.floor(i / 16), i % 16];
    if (t === 0) assert.equal(ids[i], 1, 'BOS in column 0');
    const pad = r === 1 && t >= 12;
    assert.equal(mask[i], pad ? 0 : 1);
    if (pad) assert.equal(ids[i], 0, 'pad id 0');
    const ignored = (r === 0 && t < 4) || (r === 1 && (t < 2 || t >= 12));
    assert.equal(labels[i], ignored ? -100 : ids[i]);
  }
});

test('llama_tiny: hidden_states[0] holds exactly the embed_tokens rows of input_ids', () => {
  const f = open('llama_tiny/fixtures.safetensors');
  const ids = int64s(f.readRaw('input_ids'));
  const hidden = f.readRaw('hidden_states'); // [3, 2, 16, 64]: [0] = token embeddings
  const embed = open('llama_tiny/model.safetensors').readRaw('model.embed_tokens.weight');
  ids.forEach((id, i) => assert.deepEqual(hidden.data.subarray(i * 256, (i + 1) * 256), row(embed, id), `token ${i}`));
});

test('clip_vision_tiny: hidden_states[2] is last_hidden_state', () => {
  const f = open('clip_vision_tiny/fixtures.safetensors');
  const hidden = f.readRaw('hidden_states');
  const last = f.readRaw('last_hidden_state');
  assert.deepEqual(hidden.data.subarray(2 * last.data.byteLength), last.data);
});

test('llava_tiny: its weights are llama_tiny and clip_vision_tiny, and the merged embeddings splice them', () => {
  const llava = open('llava_tiny/model.safetensors');
  const llama = open('llama_tiny/model.safetensors');
  const clip = open('clip_vision_tiny/model.safetensors');
  for (const n of llama.names()) assert.deepEqual(llava.readRaw(`language_model.${n}`).data, llama.readRaw(n).data, n);
  for (const n of clip.names()) assert.deepEqual(llava.readRaw(`vision_tower.${n}`).data, clip.readRaw(n).data, n);

  // Row 0: BOS, 16 image features, ids[2:10]; row 1: ids[0:4], 16 image features, ids[5:10] (meta.json).
  const f = open('llava_tiny/fixtures.safetensors');
  const ids = int64s(f.readRaw('input_ids'));
  assert.equal(ids[1], 500);
  assert.equal(ids[10 + 4], 500);
  const merged = f.readRaw('merged.inputs_embeds'); // [2, 25, 64]
  const features = f.readRaw('image_features'); // [2, 16, 64]
  const embed = llava.readRaw('language_model.model.embed_tokens.weight');
  const sources = [
    [0, ...Array(16).fill(-1), 2, 3, 4, 5, 6, 7, 8, 9],
    [0, 1, 2, 3, ...Array(16).fill(-1), 5, 6, 7, 8, 9],
  ];
  sources.forEach((positions, r) =>
    positions.forEach((source, p) => {
      const got = merged.data.subarray((r * 25 + p) * 256, (r * 25 + p + 1) * 256);
      const image = p - positions.indexOf(-1);
      const want =
        source === -1
          ? features.data.subarray((r * 16 + image) * 256, (r * 16 + image + 1) * 256)
          : row(embed, ids[r * 10 + source]);
      assert.deepEqual(got, want, `row ${r} position ${p}`);
    }),
  );
});
