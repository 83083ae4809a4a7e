// Checkpoint folders for the serving tests, written to temp dirs that the tests remove: a word-level tokenizer over
// the golden llava_tiny's 512 ids (id n is the word `w<n>`), and a small random LLaVA with the LLaMA tokenizer.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlavaForConditionalGeneration } from '../../src/models/llava.js';
import { llavaConfig } from '../../src/models/config.js';
import { manualSeed } from '../../src/torch/index.js';
import { llamaTokenizerJson } from '../helpers/text-llama-tokenizer.js';
import { goldenRoot } from '../helpers/golden.js';

const special = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** tokenizer.json: `<unk>` 0, `<s>` 1, `</s>` 2, `<image>` 500, every other id n the word `w<n>`; BOS added. */
export function wordTokenizerJson(): object {
  const named: Record<number, string> = { 0: '<unk>', 1: '<s>', 2: '</s>', 500: '<image>' };
  const vocab: Record<string, number> = {};
  for (let id = 0; id < 512; id++) vocab[named[id] ?? `w${id}`] = id;
  return {
    version: '1.0',
    added_tokens: Object.entries(named).map(([id, content]) => special(Number(id), content)),
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}

/** Text parts verbatim, image parts as ` <image> `: the golden prompts are words around one placeholder. */
const WORD_CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['content'] is string %}{{ message['content'] }}{% else %}" +
  "{% for part in message['content'] %}{% if part['type'] == 'image' %} <image> {% else %}{{ part['text'] }}{% endif %}" +
  '{% endfor %}{% endif %}{% endfor %}';

const TOKENIZER_CONFIG = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<unk>' };

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value));
}

/** A processor folder for the golden llava_tiny: its config.json, the word tokenizer, a 32 px CLIP processor. */
export function writeGoldenTinyProcessorDir(dir: string): void {
  copyFileSync(join(goldenRoot, 'llava_tiny', 'config.json'), join(dir, 'config.json'));
  writeJson(join(dir, 'tokenizer.json'), wordTokenizerJson());
  writeJson(join(dir, 'tokenizer_config.json'), TOKENIZER_CONFIG);
  writeJson(join(dir, 'chat_template.json'), { chat_template: WORD_CHAT_TEMPLATE });
  writeJson(join(dir, 'preprocessor_config.json'), { size: { shortest_edge: 32 }, crop_size: 32 });
}

/** A vicuna-style chat template (USER/ASSISTANT turns, images first in a turn, `</s>` after replies). */
export const VICUNA_CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + ' ' }}{% else %}" +
  "{{ message['role'].upper() + ': ' }}{% if message['content'] is string %}{{ message['content'] }}{% else %}" +
  "{% for part in message['content'] %}{% if part['type'] == 'image' %}{{ '<image>\\n' }}{% endif %}{% endfor %}" +
  "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}" +
  "{% if message['role'] == 'assistant' %}{{ '</s>' }}{% else %}{{ ' ' }}{% endif %}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

/**
 * A small random llava-hf checkpoint (CLIP 32 px / patch 8, LLaMA 2 x 64, the LLaMA tokenizer's 32000 ids plus
 * `<image>` at 32000) with its tokenizer and a vicuna-style chat template, saved with savePretrained.
 */
export function writeSmallLlava(dir: string, seed = 7): LlavaForConditionalGeneration {
  const config = llavaConfig({
    model_type: 'llava',
    image_token_index: 32000,
    image_seq_length: 16,
    pad_token_id: 0,
    vision_config: {
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      image_size: 32,
      patch_size: 8,
      projection_dim: 32,
    },
    text_config: {
      vocab_size: 32001,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      max_position_embeddings: 256,
      pad_token_id: 0,
    },
  });
  manualSeed(seed);
  const model = new LlavaForConditionalGeneration(config);
  model.eval();
  model.savePretrained(dir);
  const tokenizer = llamaTokenizerJson() as { added_tokens: object[] };
  tokenizer.added_tokens.push(special(32000, '<image>'));
  writeJson(join(dir, 'tokenizer.json'), tokenizer);
  writeJson(join(dir, 'tokenizer_config.json'), {
    add_bos_token: true,
    add_eos_token: false,
    legacy: false,
    ...TOKENIZER_CONFIG,
  });
  writeJson(join(dir, 'chat_template.json'), { chat_template: VICUNA_CHAT_TEMPLATE });
  writeJson(join(dir, 'preprocessor_config.json'), { size: { shortest_edge: 32 }, crop_size: 32 });
  return model;
}
