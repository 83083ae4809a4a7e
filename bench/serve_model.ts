// The serving benchmarks' model: the LLaVA of bench/models.ts (LLaMA 8 x 512, vocab 32000, fp32) with a smaller
// CLIP (224 px, patch 32: 49 image tokens, so prefill does not dominate), random weights, saved with the LLaMA
// tokenizer and a vicuna-style chat template into a temp folder, then loaded as `llava serve` loads it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { llavaConfig, LlavaForConditionalGeneration } from '../src/models/index.js';
import { loadModelDir, type LoadedModel } from '../src/serve/load-model.js';
import { LLAMA_8X512 } from './shapes.js';
import { llamaTokenizerJson } from '../test/helpers/text-llama-tokenizer.js';
import { VICUNA_CHAT_TEMPLATE } from '../test/serve/helpers.js';

export function benchModel(): LoadedModel & { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'llava-serve-bench-'));
  T.manualSeed(0);
  const model = new LlavaForConditionalGeneration(
    llavaConfig({
      model_type: 'llava',
      image_token_index: 32000,
      image_seq_length: 49,
      vision_config: {
        hidden_size: 384,
        intermediate_size: 1536,
        num_hidden_layers: 4,
        num_attention_heads: 6,
        image_size: 224,
        patch_size: 32,
      },
      text_config: { ...LLAMA_8X512, vocab_size: 32001, max_position_embeddings: 1024 },
    }),
  );
  model.savePretrained(dir);
  const tokenizer = llamaTokenizerJson() as { added_tokens: object[] };
  tokenizer.added_tokens.push({
    id: 32000,
    content: '<image>',
    special: true,
    normalized: false,
    lstrip: false,
    rstrip: false,
    single_word: false,
  });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      add_bos_token: true,
      legacy: false,
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      pad_token: '<unk>',
    }),
  );
  writeFileSync(join(dir, 'chat_template.json'), JSON.stringify({ chat_template: VICUNA_CHAT_TEMPLATE }));
  writeFileSync(
    join(dir, 'preprocessor_config.json'),
    JSON.stringify({ size: { shortest_edge: 224 }, crop_size: 224 }),
  );
  const loaded = loadModelDir(dir);
  return { ...loaded, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `llava serve` on the folder in its own process, as deployed: a client in the server's process would share its
 * event loop and read each chunk only after the decode step that follows it.
 */
export async function serveProcess(
  dir: string,
  args: string[] = [],
): Promise<{ url: string; stop: () => Promise<void> }> {
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'serve', '--model', dir, '--name', 'bench', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+) /.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`llava serve exited with ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

/** p-th percentile (0..100) of a list, nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
