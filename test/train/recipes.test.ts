// The shipped recipes: each one validates; the LLaVA-1.5 rows dry-run on their models' real config.json values
// with parameter counts known independently (LLaMA-7B 6,738,415,616 and -13B 13,015,864,320; the mlp2x_gelu
// projector and LoRA r 128 counted by hand); the tiny ones run through the `llava` command in a child process,
// stage 1 → stage 2 → LoRA, and Ctrl-C mid-run exits 130 with a checkpoint that --resume finishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRecipe } from '../../src/train/recipe.js';
import { tempDir } from './helpers.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const recipes = join(repo, 'recipes');
const main = join(repo, 'dist', 'src', 'cli', 'main.js');
const shipped = readdirSync(recipes, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml'));

test('every shipped recipe validates', () => {
  assert.ok(shipped.length >= 11, `${shipped.length} recipes`);
  for (const f of shipped) loadRecipe(join(recipes, f));
});

const VICUNA = {
  '7b': {
    hidden_size: 4096,
    intermediate_size: 11008,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    params: 6738415616,
  },
  '13b': {
    hidden_size: 5120,
    intermediate_size: 13824,
    num_hidden_layers: 40,
    num_attention_heads: 40,
    params: 13015864320,
  },
};
const CLIP_L_336 = {
  model_type: 'clip_vision_model',
  hidden_size: 1024,
  intermediate_size: 4096,
  num_hidden_layers: 24,
  num_attention_heads: 16,
  image_size: 336,
  patch_size: 14,
  projection_dim: 768,
  hidden_act: 'quick_gelu',
};

for (const [size, v] of Object.entries(VICUNA)) {
  test(`v1.5 ${size}: --dry-run counts (LLM ${v.params.toLocaleString('en-US')}, projector, LoRA r 128) from config.json alone`, () => {
    const dir = tempDir('llava-recipes-');
    try {
      const { params, ...config } = v;
      mkdirSync(join(dir.path, 'models', `vicuna-${size}-v1.5`), { recursive: true });
      mkdirSync(join(dir.path, 'models', 'clip-vit-large-patch14-336'), { recursive: true });
      writeFileSync(
        join(dir.path, 'models', `vicuna-${size}-v1.5`, 'config.json'),
        JSON.stringify({
          model_type: 'llama',
          vocab_size: 32000,
          max_position_embeddings: 4096,
          rms_norm_eps: 1e-5,
          ...config,
        }),
      );
      writeFileSync(join(dir.path, 'models', 'clip-vit-large-patch14-336', 'config.json'), JSON.stringify(CLIP_L_336));
      const dry = (stage: string) => {
        const r = spawnSync(
          process.execPath,
          [main, 'train', '--recipe', join(recipes, 'v1_5', `${size}-${stage}.yaml`), '--dry-run'],
          { cwd: dir.path, encoding: 'utf8' },
        );
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
      };
      const h = v.hidden_size;
      const projector = 1024 * h + h + h * h + h;
      const count = (n: number) => n.toLocaleString('en-US');
      const pretrain = dry('pretrain');
      assert.match(pretrain, new RegExp(`language_model\\s+${count(params)}\\s+trainable 0\\n`));
      assert.match(pretrain, new RegExp(`projector\\s+${count(projector)}\\s+trainable ${count(projector)}\\n`));
      assert.match(dry('finetune'), new RegExp(`language_model\\s+${count(params)}\\s+trainable ${count(params)}\\n`));
      const r = 128;
      const lora = v.num_hidden_layers * r * (4 * 2 * h + 3 * (h + v.intermediate_size));
      assert.match(dry('lora'), new RegExp(`lora\\s+${count(lora)}\\s+trainable ${count(lora)}\\n`));
      assert.match(pretrain, /memory estimate: .* total [\d.]+ GiB/);
    } finally {
      dir.remove();
    }
  });
}

test('tiny recipes through `llava train`: stage 1 → stage 2 → LoRA; Ctrl-C exits 130 with a checkpoint, --resume finishes', async () => {
  const dir = tempDir('llava-tiny-');
  try {
    const make = spawnSync(process.execPath, [join(recipes, 'tiny', 'make.mjs')], { cwd: dir.path, encoding: 'utf8' });
    assert.equal(make.status, 0, make.stderr);
    const train = (name: string, ...extra: string[]) =>
      spawnSync(
        process.execPath,
        [main, 'train', '--recipe', join(recipes, 'tiny', `${name}.yaml`), '--no-progress', ...extra],
        { cwd: dir.path, encoding: 'utf8' },
      );
    for (const stage of ['pretrain', 'finetune', 'lora']) {
      const r = train(stage);
      assert.equal(r.status, 0, `${stage}: ${r.stderr}`);
      assert.match(r.stderr, /step 4\/4 {2}loss/);
    }
    assert.ok(existsSync(join(dir.path, 'tiny/out/pretrain/mm_projector.bin')));
    assert.ok(existsSync(join(dir.path, 'tiny/out/finetune/model.safetensors')));
    assert.ok(existsSync(join(dir.path, 'tiny/out/lora/adapter_model.safetensors')));
    const bf16 = train(
      'finetune',
      '--set',
      'bf16=true',
      '--set',
      'gradient_checkpointing=true',
      '--set',
      'output_dir=tiny/out/bf16',
    );
    assert.equal(bf16.status, 0, bf16.stderr);
    assert.equal(JSON.parse(readFileSync(join(dir.path, 'tiny/out/bf16/config.json'), 'utf8')).torch_dtype, 'bfloat16');

    // Ctrl-C after the first step: the step ends, a checkpoint is written, exit 130; --resume completes the run.
    const out = 'tiny/out/interrupted';
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(
        process.execPath,
        [
          main,
          'train',
          '--recipe',
          join(recipes, 'tiny', 'pretrain.yaml'),
          '--no-progress',
          '--set',
          `output_dir=${out}`,
          '--set',
          'save_steps=0',
        ],
        { cwd: dir.path },
      );
      let stderr = '';
      let sent = false;
      p.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (!sent && /step 1\/4/.test(stderr)) sent = p.kill('SIGINT'); // once: a second Ctrl-C abandons the step
      });
      p.on('exit', resolve);
    });
    assert.equal(code, 130);
    const checkpoints = readdirSync(join(dir.path, out)).filter((f) => f.startsWith('checkpoint-'));
    assert.equal(checkpoints.length, 1);
    assert.ok(!existsSync(join(dir.path, out, 'mm_projector.bin')), 'an interrupted run writes no final outputs');
    const resumed = train('pretrain', '--set', `output_dir=${out}`, '--set', 'save_steps=0', '--resume');
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /resumed from .*checkpoint-\d+ at step \d+ of 4/);
    const whole = readFileSync(join(dir.path, 'tiny/out/pretrain/mm_projector.bin'));
    assert.ok(
      readFileSync(join(dir.path, out, 'mm_projector.bin')).equals(whole),
      'the resumed run ends with the same projector',
    );
  } finally {
    dir.remove();
  }
});
