// `llava train` end to end on a small random LLaVA with LLaMA's tokenizer and real image files: stage 1 writes
// mm_projector.bin that torch.load reads with the reference's keys and our values; stage 2 takes it through
// pretrain_mm_mlp_adapter and writes a llava-hf checkpoint that loads, with the vision tower bit-identical; LoRA
// writes PEFT's files and `llava merge-lora` merges them as W + B·A·α/r. Also --dry-run, recipe errors, and a
// resume with a changed recipe refused naming the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { run, runMergeLora } from '../../src/cli/train.js';
import { openSafetensors } from '../../src/io/tensors.js';
import { LlavaForConditionalGeneration } from '../../src/models/index.js';
import { scope } from '../../src/torch/index.js';
import { maxAbsDiff } from '../helpers/golden.js';
import { writeInstructionData, writeSmallLlava } from './small-llava.js';
import { tempDir } from './helpers.js';

const root = tempDir('llava-cli-');
const model = join(root.path, 'model');
let captions: string;
let conversations: string;

function recipe(name: string, values: Record<string, unknown>): string {
  const path = join(root.path, `${name}.yaml`);
  writeFileSync(
    path,
    stringify({
      model_name_or_path: model,
      image_folder: join(root.path, 'images'),
      preprocessor_config: join(model, 'preprocessor_config.json'),
      per_device_train_batch_size: 2,
      gradient_accumulation_steps: 2,
      num_train_epochs: 1,
      lr_scheduler_type: 'cosine',
      warmup_ratio: 0.03,
      model_max_length: 64,
      save_steps: 1,
      save_total_limit: 2,
      ...values,
    }),
  );
  return path;
}

/** Runs a command's run() with its console output captured. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = console.error = (...args: unknown[]) => void lines.push(args.join(' '));
  try {
    return { code: await fn(), out: lines.join('\n') };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

test.before(async () => {
  writeSmallLlava(model);
  captions = await writeInstructionData(root.path, 8, 'caption');
  conversations = await writeInstructionData(root.path, 8, 'conversation');
});
test.after(() => root.remove());

test('stage 1 → mm_projector.bin (torch.load: reference keys, our values) → stage 2 llava-hf checkpoint → LoRA → merge-lora', async () => {
  const s1 = join(root.path, 's1');
  const pretrain = recipe('pretrain', {
    stage: 'pretrain',
    data_path: captions,
    version: 'plain',
    learning_rate: 1e-3,
    output_dir: s1,
  });
  const first = await capture(() => run(['--recipe', pretrain, '--no-progress']));
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /8 samples, 4 micro-batches per epoch, 2 optimizer steps \(warmup 1\)/);
  const metrics = readFileSync(join(s1, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    metrics.map((m) => m.step),
    [1, 2],
  );
  assert.equal(metrics[0].lr, 0); // warmup: the first step has lr 0
  assert.ok(metrics.every((m) => Number.isFinite(m.loss) && m.supervised_tokens > 0 && m.mfu > 0));
  assert.match(readFileSync(join(s1, 'report.html'), 'utf8'), /new Chart\(/);
  const ckpt = openSafetensors(join(s1, 'checkpoint-2', 'trainable.safetensors'));
  assert.deepEqual(ckpt.names().sort(), [
    'multi_modal_projector.linear_1.bias',
    'multi_modal_projector.linear_1.weight',
    'multi_modal_projector.linear_2.bias',
    'multi_modal_projector.linear_2.weight',
  ]);
  const script = [
    'import sys, json, torch',
    'd = torch.load(sys.argv[1])',
    'print(json.dumps({k: [list(v.shape), v.flatten().tolist()] for k, v in d.items()}))',
  ].join('\n');
  const loaded = JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', script, join(s1, 'mm_projector.bin')], { encoding: 'utf8' }),
  );
  const mapping: Record<string, string> = {
    'model.mm_projector.0.weight': 'multi_modal_projector.linear_1.weight',
    'model.mm_projector.0.bias': 'multi_modal_projector.linear_1.bias',
    'model.mm_projector.2.weight': 'multi_modal_projector.linear_2.weight',
    'model.mm_projector.2.bias': 'multi_modal_projector.linear_2.bias',
  };
  assert.deepEqual(Object.keys(loaded).sort(), Object.keys(mapping).sort());
  for (const [key, name] of Object.entries(mapping)) {
    const ours = ckpt.readTensor(name);
    assert.deepEqual(loaded[key][0], ours.shape, key);
    assert.deepEqual(loaded[key][1], Array.from(ours.toTypedArray() as Float32Array), key);
  }
  ckpt.close();
  assert.ok(existsSync(join(s1, 'mm_projector.safetensors')) && existsSync(join(s1, 'config.json')));

  // Worker threads for the data give the same run (dataloader_num_workers is not part of the numbers).
  const s1w = join(root.path, 's1-workers');
  const workers = await capture(() =>
    run(['--recipe', pretrain, '--set', 'dataloader_num_workers=2', '--set', `output_dir=${s1w}`, '--no-progress']),
  );
  assert.equal(workers.code, 0, workers.out);
  const withWorkers = readFileSync(join(s1w, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    withWorkers.map((m) => [m.loss, m.grad_norm]),
    metrics.map((m) => [m.loss, m.grad_norm]),
  );

  // Resuming with a changed recipe is refused, naming the key.
  await assert.rejects(
    capture(() => run(['--recipe', pretrain, '--set', 'learning_rate=0.002', '--resume', '--no-progress'])),
    /another run[\s\S]*learning_rate: checkpoint 0\.001 ≠ this run 0\.002/,
  );

  const s2 = join(root.path, 's2');
  const finetune = recipe('finetune', {
    stage: 'finetune',
    data_path: conversations,
    version: 'v1',
    learning_rate: 2e-4,
    mm_projector_lr: 5e-4,
    weight_decay: 0.1,
    group_by_modality_length: true,
    pretrain_mm_mlp_adapter: join(s1, 'mm_projector.bin'),
    output_dir: s2,
  });
  const second = await capture(() => run(['--recipe', finetune, '--no-progress']));
  assert.equal(second.code, 0, second.out);
  for (const f of [
    'config.json',
    'model.safetensors',
    'tokenizer.model',
    'tokenizer_config.json',
    'generation_config.json',
  ])
    assert.ok(existsSync(join(s2, f)), f);
  const trained = LlavaForConditionalGeneration.fromPretrained(s2);
  const base = LlavaForConditionalGeneration.fromPretrained(model);
  const baseParams = new Map(base.namedParameters());
  scope(() => {
    for (const [name, p] of trained.namedParameters()) {
      const same = maxAbsDiff(p, baseParams.get(name)!) === 0;
      if (name.startsWith('vision_tower.')) assert.ok(same, `${name} changed in stage 2`);
      else if (name.endsWith('q_proj.weight') && name.startsWith('language_model.'))
        assert.ok(!same, `${name} did not train`);
    }
  });

  const s3 = join(root.path, 's3');
  const lora = recipe('lora', {
    stage: 'lora',
    data_path: conversations,
    version: 'v1',
    learning_rate: 2e-4,
    lora_r: 4,
    lora_alpha: 8,
    lora_dropout: 0.05,
    output_dir: s3,
  });
  const third = await capture(() => run(['--recipe', lora, '--no-progress']));
  assert.equal(third.code, 0, third.out);
  const adapterConfig = JSON.parse(readFileSync(join(s3, 'adapter_config.json'), 'utf8'));
  assert.equal(adapterConfig.r, 4);
  assert.equal(adapterConfig.lora_alpha, 8);
  assert.equal(
    adapterConfig.target_modules,
    '.*language_model\\..*\\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)',
  );
  const adapter = openSafetensors(join(s3, 'adapter_model.safetensors'));
  assert.equal(adapter.names().length, 2 * 7 * 2);
  assert.ok(
    adapter
      .names()
      .every((k) =>
        /^base_model\.model\.language_model\.model\.layers\.\d\.(self_attn|mlp)\.\w+_proj\.lora_[AB]\.weight$/.test(k),
      ),
  );
  assert.ok(existsSync(join(s3, 'non_lora_trainables.bin')));

  const merged = join(root.path, 'merged');
  const merge = await capture(() =>
    runMergeLora(['--model-path', s3, '--model-base', model, '--save-model-path', merged]),
  );
  assert.equal(merge.code, 0, merge.out);
  const m = LlavaForConditionalGeneration.fromPretrained(merged);
  const key = 'language_model.model.layers.1.self_attn.v_proj';
  scope(() => {
    const A = adapter.readTensor(`base_model.model.${key}.lora_A.weight`);
    const B = adapter.readTensor(`base_model.model.${key}.lora_B.weight`);
    const expected = baseParams.get(`${key}.weight`)!.add(B.matmul(A).mul(2));
    assert.ok(maxAbsDiff(new Map(m.namedParameters()).get(`${key}.weight`)!, expected) <= 1e-6);
    const nonLora = openSafetensors(join(s3, 'non_lora_trainables.safetensors'));
    const projector = nonLora.readTensor('base_model.model.multi_modal_projector.linear_1.weight');
    assert.ok(maxAbsDiff(new Map(m.namedParameters()).get('multi_modal_projector.linear_1.weight')!, projector) === 0);
    nonLora.close();
  });
  adapter.close();
});

test('the reference’s path: Vicuna-style LLaMA + CLIP folders → stage 1 (-200 placeholder) → stage 2 in the original layout', async () => {
  const small = LlavaForConditionalGeneration.fromPretrained(model);
  const llm = join(root.path, 'llm');
  const clip = join(root.path, 'clip');
  small.language_model.savePretrained(llm);
  small.vision_tower.savePretrained(clip);
  for (const f of ['tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json'])
    copyFileSync(join(model, f), join(llm, f));
  const s1 = join(root.path, 'ref-s1');
  const pretrain = recipe('ref-pretrain', {
    stage: 'pretrain',
    model_name_or_path: llm,
    vision_tower: clip,
    data_path: captions,
    version: 'plain',
    learning_rate: 1e-3,
    output_dir: s1,
  });
  const first = await capture(() => run(['--recipe', pretrain, '--no-progress']));
  assert.equal(first.code, 0, first.out);
  const config = JSON.parse(readFileSync(join(s1, 'config.json'), 'utf8'));
  assert.equal(config.mm_projector_type, 'mlp2x_gelu');
  assert.equal(config.mm_vision_select_layer, -2);
  assert.equal(config.tune_mm_mlp_adapter, true);
  assert.equal(config.mm_vision_tower, clip);
  const s2 = join(root.path, 'ref-s2');
  const finetune = recipe('ref-finetune', {
    stage: 'finetune',
    model_name_or_path: llm,
    vision_tower: clip,
    pretrain_mm_mlp_adapter: join(s1, 'mm_projector.bin'),
    data_path: conversations,
    version: 'v1',
    learning_rate: 2e-4,
    output_dir: s2,
  });
  const second = await capture(() => run(['--recipe', finetune, '--no-progress']));
  assert.equal(second.code, 0, second.out);
  const names = openSafetensors(s2).names();
  assert.ok(names.includes('model.mm_projector.0.weight') && names.includes('lm_head.weight'));
  assert.ok(names.includes('model.layers.0.self_attn.q_proj.weight'));
  assert.ok(names.some((n) => n.startsWith('model.vision_tower.vision_tower.vision_model.')));
  const reloaded = LlavaForConditionalGeneration.fromPretrained(s2); // the original-layout loader
  assert.equal(reloaded.config.image_token_index, -200);
  const tower = new Map(small.vision_tower.namedParameters());
  scope(() => {
    for (const [n, p] of reloaded.vision_tower.namedParameters()) assert.equal(maxAbsDiff(p, tower.get(n)!), 0, n);
  });

  // LoRA on the same base: PEFT keys of LlavaLlamaForCausalLM (spec §6.1), then merged onto the plain LLaMA.
  const s3 = join(root.path, 'ref-lora');
  const lora = recipe('ref-lora', {
    stage: 'lora',
    model_name_or_path: llm,
    vision_tower: clip,
    pretrain_mm_mlp_adapter: join(s1, 'mm_projector.bin'),
    data_path: conversations,
    version: 'v1',
    lora_r: 4,
    lora_alpha: 8,
    learning_rate: 2e-4,
    output_dir: s3,
  });
  const third = await capture(() => run(['--recipe', lora, '--no-progress']));
  assert.equal(third.code, 0, third.out);
  const adapter = openSafetensors(join(s3, 'adapter_model.safetensors'));
  assert.ok(
    adapter.names().includes('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'),
    adapter.names()[0],
  );
  const nonLora = openSafetensors(join(s3, 'non_lora_trainables.safetensors'));
  assert.deepEqual(nonLora.names().sort(), [
    'base_model.model.model.mm_projector.0.bias',
    'base_model.model.model.mm_projector.0.weight',
    'base_model.model.model.mm_projector.2.bias',
    'base_model.model.model.mm_projector.2.weight',
  ]);
  const merged = join(root.path, 'ref-merged');
  const merge = await capture(() =>
    runMergeLora(['--model-path', s3, '--model-base', llm, '--save-model-path', merged]),
  );
  assert.equal(merge.code, 0, merge.out);
  const m = new Map(LlavaForConditionalGeneration.fromPretrained(merged).namedParameters());
  const key = 'model.layers.0.self_attn.q_proj';
  scope(() => {
    const delta = adapter
      .readTensor(`base_model.model.${key}.lora_B.weight`)
      .matmul(adapter.readTensor(`base_model.model.${key}.lora_A.weight`))
      .mul(2);
    const base = new Map(small.language_model.namedParameters()).get(`${key}.weight`)!;
    assert.ok(maxAbsDiff(m.get(`language_model.${key}.weight`)!, base.add(delta)) <= 1e-6);
    assert.equal(
      maxAbsDiff(
        m.get('multi_modal_projector.linear_2.bias')!,
        nonLora.readTensor('base_model.model.model.mm_projector.2.bias'),
      ),
      0,
    );
  });
  adapter.close();
  nonLora.close();
});

test('--dry-run prints the resolved recipe, trainable counts by part and the memory estimate', async () => {
  const path = recipe('dry', {
    stage: 'lora',
    data_path: conversations,
    output_dir: join(root.path, 'dry'),
    lora_r: 8,
  });
  const { code, out } = await capture(() => run(['--recipe', path, '--dry-run']));
  assert.equal(code, 0, out);
  assert.match(out, /lora_r: 8/);
  assert.match(out, /lr_scheduler_type: cosine/);
  // LoRA r 8 on 2 layers of q,k,v,o (32→32) and gate, up (32→64), down (64→32): 8·(4·64 + 2·96 + 96) per layer
  assert.match(out, /lora\s+ 8,704\s+trainable 8,704/);
  assert.match(out, /vision_tower\s+[\d,]+\s+trainable 0\b/);
  assert.match(out, /memory estimate: parameters [\d.]+ GiB, gradients/);
  assert.ok(!existsSync(join(root.path, 'dry')), 'a dry run writes nothing');
});

test('recipe errors name the key and the file (unknown key, wrong type, out of range, --set)', async () => {
  const path = recipe('bad', {
    stage: 'pretrain',
    data_path: captions,
    output_dir: join(root.path, 'bad'),
    learnin_rate: 1,
    warmup_ratio: 2,
    seed: 'x',
  });
  const { code, out } = await capture(() =>
    run(['--recipe', path, '--set', 'gradient_accumulation_steps=0', '--dry-run']),
  );
  assert.equal(code, 2);
  assert.ok(out.includes(`${path}: learnin_rate: Unrecognized key`), out);
  assert.ok(out.includes(`${path}: warmup_ratio:`), out);
  assert.ok(out.includes(`${path}: seed:`), out);
  assert.ok(out.includes('--set gradient_accumulation_steps:'), out);
});
