// Checkpoints: save then load is bit-exact (single file, shards, bf16), the original LLaVA layout
// and a stage-1 projector file load onto the same modules, and mismatches are named.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/torch/index.js';
import { openSafetensors, saveSafetensors } from '../../src/io/tensors.js';
import {
  CLIPVisionModel,
  LlamaForCausalLM,
  llavaConfig,
  LlavaForConditionalGeneration,
} from '../../src/models/index.js';
import type { Module } from '../../src/nn/index.js';
import { golden, maxAbsDiff } from '../helpers/golden.js';
import { writeOriginalLayout } from './original-layout.js';

const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'llava-ckpt-'));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const bits = (t: T.Tensor) => Buffer.from((t.toTypedArray() as Uint8Array).buffer);

function assertSameWeights(a: Module, b: Module): void {
  const sa = a.stateDict(),
    sb = b.stateDict();
  assert.deepEqual([...sb.keys()].sort(), [...sa.keys()].sort());
  for (const [name, t] of sa) {
    assert.equal(sb.get(name)!.dtype, t.dtype, name);
    assert.ok(bits(sb.get(name)!).equals(bits(t)), `${name} differs`);
  }
}

test('savePretrained then fromPretrained is bit-exact for LLaMA, CLIP and LLaVA, single file and sharded', () => {
  const cases: [string, (d: string) => Module][] = [
    ['llama_tiny', (d) => LlamaForCausalLM.fromPretrained(d)],
    ['clip_vision_tiny', (d) => CLIPVisionModel.fromPretrained(d)],
    ['llava_tiny', (d) => LlavaForConditionalGeneration.fromPretrained(d)],
  ];
  for (const [name, load] of cases) {
    const original = load(golden(name).dir) as LlamaForCausalLM;
    for (const maxShardSize of [undefined, 100_000]) {
      const dir = tmp();
      original.savePretrained(dir, { maxShardSize });
      if (maxShardSize) assert.ok(readdirSync(dir).includes('model.safetensors.index.json'), `${name} was sharded`);
      assertSameWeights(original, load(dir));
    }
  }
});

test("the llava-hf files we write have transformers' key names and a config transformers reads back", () => {
  const dir = tmp();
  LlavaForConditionalGeneration.fromPretrained(golden('llava_tiny').dir).savePretrained(dir);
  const goldenNames = openSafetensors(join(golden('llava_tiny').dir, 'model.safetensors'))
    .names()
    .sort();
  assert.deepEqual(openSafetensors(dir).names().sort(), goldenNames);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.model_type, 'llava');
  assert.deepEqual(config.architectures, ['LlavaForConditionalGeneration']);
  assert.equal(config.text_config.num_key_value_heads, 4);
  assert.equal(config.image_token_index, 500);
});

test('bf16 weights: kept as bf16 with dtype auto, upcast exactly to float32 by default', () => {
  const src = LlamaForCausalLM.fromPretrained(golden('llama_tiny_gqa').dir, { dtype: 'bfloat16' });
  const dir = tmp();
  src.savePretrained(dir, { maxShardSize: 200_000 });
  const auto = LlamaForCausalLM.fromPretrained(dir, { dtype: 'auto' });
  assertSameWeights(src, auto);
  const f32 = LlamaForCausalLM.fromPretrained(dir);
  const w = f32.stateDict().get('model.layers.0.self_attn.k_proj.weight')!;
  assert.equal(w.dtype, 'float32');
  assert.equal(maxAbsDiff(w, auto.stateDict().get('model.layers.0.self_attn.k_proj.weight')!.to('float32')), 0);
});

test('the original LLaVA layout (model.*, mm_projector.0/2, tower by mm_vision_tower, image id -200) gives the llava-hf logits', () => {
  const { dir } = writeOriginalLayout(tmp());
  const model = LlavaForConditionalGeneration.fromPretrained(dir);
  assert.equal(model.config.image_token_index, -200);
  const { fixture } = golden('llava_tiny');
  const inputIds = fixture('input_ids').maskedFill(fixture('input_ids').eq(500), -200);
  const out = model.forward({
    inputIds,
    attentionMask: fixture('attention_mask'),
    pixelValues: fixture('pixel_values'),
  });
  assert.ok(maxAbsDiff(out.logits, fixture('logits')) <= 1e-5);
});

test('a missing vision tower lists where it was looked for; an explicit folder is used', () => {
  const { root, dir } = writeOriginalLayout(tmp());
  const elsewhere = join(tmp(), 'tower');
  mkdirSync(elsewhere);
  for (const f of readdirSync(join(root, 'clip-tiny'))) copyFileSync(join(root, 'clip-tiny', f), join(elsewhere, f));
  writeFileSync(
    join(dir, 'config.json'),
    readFileSync(join(dir, 'config.json'), 'utf8').replace('openai/clip-tiny', 'openai/clip-nowhere'),
  );
  assert.throws(
    () => LlavaForConditionalGeneration.fromPretrained(dir),
    /vision tower 'openai\/clip-nowhere' \(mm_vision_tower\) was not found; looked in:[\s\S]*clip-nowhere/,
  );
  assert.equal(
    LlavaForConditionalGeneration.fromPretrained(dir, { visionTower: elsewhere }).config.vision_config.hidden_size,
    48,
  );
});

test('a stage-1 projector file (model.mm_projector.* keys) loads into the projector', () => {
  const { fixture, dir } = golden('llava_tiny');
  const trained = LlavaForConditionalGeneration.fromPretrained(dir);
  const file = join(tmp(), 'mm_projector.safetensors');
  const p = trained.multi_modal_projector;
  saveSafetensors(file, {
    'model.mm_projector.0.weight': p.linear_1!.weight,
    'model.mm_projector.0.bias': p.linear_1!.bias!,
    'model.mm_projector.2.weight': p.linear_2!.weight,
    'model.mm_projector.2.bias': p.linear_2!.bias!,
  });
  const fresh = LlavaForConditionalGeneration.fromPretrained(dir);
  T.noGrad(() => {
    for (const t of fresh.multi_modal_projector.parameters()) t.zero_();
  });
  fresh.loadProjector(file);
  assert.equal(
    maxAbsDiff(fresh.imageFeatures(fixture('pixel_values')), trained.imageFeatures(fixture('pixel_values'))),
    0,
  );
});

test('missing and unexpected keys are listed (strict by default, with an opt-out); shape mismatches name both shapes', () => {
  const dir = tmp();
  const src = golden('llama_tiny').dir;
  copyFileSync(join(src, 'config.json'), join(dir, 'config.json'));
  const reader = openSafetensors(src);
  const weights: Record<string, T.Tensor> = {};
  for (const k of reader.names()) if (k !== 'model.norm.weight') weights[k] = reader.readTensor(k);
  weights['model.extra.weight'] = T.zeros([2]);
  saveSafetensors(join(dir, 'model.safetensors'), weights);
  assert.throws(
    () => LlamaForCausalLM.fromPretrained(dir),
    (e: Error) =>
      /missing keys \(1\): model\.norm\.weight/.test(e.message) &&
      /unexpected keys \(1\): model\.extra\.weight/.test(e.message),
  );
  const lenient = LlamaForCausalLM.fromPretrained(dir, { strict: false });
  assert.equal(lenient.model.norm.weight.device, 'cpu');
  weights['model.norm.weight'] = T.zeros([65]);
  delete weights['model.extra.weight'];
  saveSafetensors(join(dir, 'model.safetensors'), weights);
  assert.throws(
    () => LlamaForCausalLM.fromPretrained(dir),
    /'model\.norm\.weight' has shape \[65\] in the checkpoint but the model expects \[64\]/,
  );
});

test('bad configs and bad inputs are clear errors', () => {
  const dir = tmp();
  assert.throws(() => LlamaForCausalLM.fromPretrained(dir), /no config\.json/);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'mistralish' }));
  assert.throws(() => LlamaForCausalLM.fromPretrained(dir), /model_type 'mistralish' is not a LLaMA-family model/);
  writeFileSync(join(dir, 'config.json'), '{ nope');
  assert.throws(() => LlamaForCausalLM.fromPretrained(dir), /config\.json: .*JSON/);
  const { dir: orig } = writeOriginalLayout(tmp());
  writeFileSync(
    join(orig, 'config.json'),
    readFileSync(join(orig, 'config.json'), 'utf8').replace('"mlp2x_gelu"', '"qformer"'),
  );
  assert.throws(() => LlavaForConditionalGeneration.fromPretrained(orig), /projector type 'qformer' is not supported/);

  const { fixture, dir: llava } = golden('llava_tiny');
  const model = LlavaForConditionalGeneration.fromPretrained(llava);
  assert.throws(
    () => model.forward({ inputIds: fixture('input_ids'), pixelValues: T.zeros([2, 3, 64, 64]) }),
    /pixel values must be \[N, 3, 32, 32\], got \[2,3,64,64\]/,
  );
  assert.throws(
    () => model.forward({ inputIds: fixture('input_ids'), pixelValues: T.zeros([3, 3, 32, 32]) }),
    /hold 2 image tokens \(id 500\) but 3 images were given/,
  );
  assert.throws(() => model.forward({ inputIds: fixture('input_ids') }), /2 image tokens but no pixel values/);
});

test('a stage-1 mm_projector.bin written by torch.save loads into the projector, values as PyTorch wrote them', () => {
  const dir = join(fileURLToPath(import.meta.url), '..', '..', '..', '..', 'test', 'fixtures', 'torch-bin'); // dist/test/models -> test/fixtures
  const model = new LlavaForConditionalGeneration(
    llavaConfig({
      model_type: 'llava',
      vision_config: {
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        image_size: 8,
        patch_size: 4,
      },
      text_config: {
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        vocab_size: 64,
      },
    }),
  );
  model.loadProjector(join(dir, 'mm_projector.bin'));
  // mm_projector.bin.expected: the four tensors' float32 bytes as PyTorch holds them, in file order.
  const expected = readFileSync(join(dir, 'mm_projector.bin.expected'));
  const p = model.multi_modal_projector;
  const got = Buffer.concat([p.linear_1!.weight, p.linear_1!.bias!, p.linear_2!.weight, p.linear_2!.bias!].map(bits));
  assert.ok(got.equals(expected));
});
