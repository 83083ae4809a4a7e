// LlavaProcessor against independent truth: the reference's own prompts and input_ids
// (../shared/golden/llava_preprocess), transformers' CLIPImageProcessor pixel values (golden/clip_preprocess), and
// transformers' greedy tokens for the golden llava_tiny (golden/llava_tiny), reached through answer().
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LlavaProcessor } from '../../src/serve/processor.js';
import { conversationTemplateForModel, modelNameFromPath } from '../../src/serve/prompt-format.js';
import { LlavaForConditionalGeneration } from '../../src/models/llava.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { readJsonl, sharedPath, type GoldenCase } from '../helpers/text-golden.js';
import { golden, goldenRoot, ids } from '../helpers/golden.js';
import { tempDir, writeGoldenTinyProcessorDir, writeJson } from './helpers.js';
import type { ChatMessage } from '../../src/text/chat-template.js';

const CLIP = sharedPath('golden', 'clip_preprocess');
const clipMeta = JSON.parse(readFileSync(resolve(CLIP, 'meta.json'), 'utf8')) as {
  processors: Record<string, object>;
};
const clipFixtures = SafetensorsFile.open(resolve(CLIP, 'fixtures.safetensors'));
const temp = tempDir('llava-processor-');
after(() => temp.remove());

/** An original-LLaVA-layout folder (mm_vision_tower, image_aspect_ratio) named `name`, with the LLaMA tokenizer. */
function originalLayoutDir(name: string, legacy: boolean, aspect: 'pad' | undefined): string {
  const dir = join(temp.dir, name);
  mkdirSync(dir, { recursive: true });
  // LLaMA's SentencePiece tokenizer as the golden folders hold it (tokenizer.model, as original checkpoints ship).
  const tok = join(goldenRoot, 'llava_preprocess', 'tokenizer', ...(legacy ? ['legacy_true'] : []));
  for (const f of ['tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json'])
    writeFileSync(join(dir, f), readFileSync(join(tok, f)));
  writeJson(join(dir, 'config.json'), {
    model_type: 'llava_llama',
    mm_vision_tower: 'openai/clip-vit-large-patch14-336',
    ...(aspect ? { image_aspect_ratio: aspect } : {}),
  });
  writeJson(join(dir, 'preprocessor_config.json'), clipMeta.processors.clip336);
  return dir;
}

const IMAGE = resolve(CLIP, 'images', 'gradient_640x480.png');
const cases = readJsonl<GoldenCase>('cases.jsonl').filter((c) => c.version === 'v1' && c.applicable);

for (const legacy of [false, true]) {
  test(`v1 prompts and input_ids equal the reference's preprocessing (legacy ${legacy})`, async () => {
    const dir = originalLayoutDir(`v1-legacy-${legacy}`, legacy, 'pad');
    const processor = LlavaProcessor.fromPretrained(dir, { conversationTemplate: 'vicuna_v1' });
    let checked = 0;
    for (const c of cases.filter((c) => c.legacy === legacy)) {
      // Text-only training samples take the reference's plain tokenizer path (truncated, a literal `<image>` kept as
      // text); at inference every `<image>` is an image, so those are the tokenizer tests' business.
      if (!c.has_image && (c.input_ids.length >= 2048 || c.prompt.includes('<image>'))) continue;
      const inputs = await processor.process({ text: c.prompt, images: c.has_image ? [IMAGE] : [] });
      assert.deepEqual(ids(inputs.inputIds), c.input_ids, c.id);
      // The prompt from the turns, when they alternate from the user as chat messages do.
      const turns = c.sources.map((t) => ({ role: t.from === 'human' ? 'user' : 'assistant', content: t.value }));
      if (turns.every((t, i) => t.role === (i % 2 ? 'assistant' : 'user')))
        assert.equal(
          processor.applyChatTemplate(turns as ChatMessage[], { addGenerationPrompt: false }),
          c.prompt,
          c.id,
        );
      checked++;
    }
    assert.ok(checked >= 20, `${checked} cases`);
  });
}

test("pixel values equal CLIPImageProcessor's, pad mode from config.json, from a path, a Buffer and a data: URL", async () => {
  const ONE_LEVEL = 1 / 255 / 0.26130258 + 1e-5;
  for (const [aspect, key] of [
    ['pad', 'clip336.pad'],
    [undefined, 'clip336.crop'],
  ] as const) {
    const processor = LlavaProcessor.fromPretrained(originalLayoutDir(`pixels-${key}`, false, aspect));
    for (const file of ['gradient_640x480.png', 'checker_rgba_300x500.png', 'smooth_noise_500x375.jpg']) {
      const path = resolve(CLIP, 'images', file);
      const raw = clipFixtures.readRaw(`${file.replace(/\.[^.]+$/, '')}.${key}`);
      const expected = new Float32Array(raw.data.buffer, raw.data.byteOffset, raw.data.length / 4);
      const bytes = readFileSync(path);
      const inputs = [path, bytes, `data:image/png;base64,${bytes.toString('base64')}`];
      for (const input of inputs) {
        const got = (await processor.pixelValues(input)).toTypedArray() as Float32Array;
        assert.equal(got.length, expected.length);
        let max = 0;
        for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - expected[i]!));
        assert.ok(max <= ONE_LEVEL, `${file} ${key}: max |diff| ${max}`);
      }
    }
  }
});

test('a batch is left-padded with the pad id; the prompt placeholder count must match the images', async () => {
  const processor = LlavaProcessor.fromPretrained(originalLayoutDir('pad-batch', false, 'pad'));
  const { inputIds, attentionMask, pixelValues } = await processor.process({
    text: ['<image>\nHi', 'A longer question here'],
    images: [IMAGE],
  });
  const tok = processor.tokenizer;
  const short = [1, -200, ...tok.encode('\nHi').slice(1)];
  const long = tok.encode('A longer question here');
  const width = Math.max(short.length, long.length);
  const pad = (r: number[]) => [...new Array(width - r.length).fill(0), ...r];
  assert.deepEqual(ids(inputIds), [...pad(short), ...pad(long)]);
  const ones = (r: number[]) => [...new Array(width - r.length).fill(0), ...r.map(() => 1)];
  assert.deepEqual(ids(attentionMask), [...ones(short), ...ones(long)]);
  assert.deepEqual(pixelValues!.shape, [1, 3, 336, 336]);
  await assert.rejects(
    processor.process({ text: 'no placeholder', images: [IMAGE] }),
    /0 <image> placeholders but 1 images/,
  );
});

test("the conversation template is chosen from the folder name as the reference's CLI chooses it", () => {
  assert.equal(conversationTemplateForModel('llava-v1.5-7b'), 'llava_v1');
  assert.equal(conversationTemplateForModel('llava-llama-2-13b-chat'), 'llava_llama_2');
  assert.equal(conversationTemplateForModel('llava-v1.6-mistral-7b'), 'mistral_instruct');
  assert.equal(conversationTemplateForModel('llava-v1.6-34b'), 'chatml_direct');
  assert.equal(conversationTemplateForModel('LLaVA-Lightning-MPT-7B'), 'mpt');
  assert.equal(conversationTemplateForModel('LLaVA-7b-delta'), 'llava_v0');
  assert.equal(modelNameFromPath('/x/llava-v1.5-7b-lora/checkpoint-500'), 'llava-v1.5-7b-lora_checkpoint-500');
  const processor = LlavaProcessor.fromPretrained(originalLayoutDir('llava-v1.5-7b', false, 'pad'));
  const prompt = processor.applyChatTemplate([
    { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is this?' }] },
  ]);
  // Spec §3.1 and §10.1: llava_v1 is the TWO style with the "human" system prompt; no space after ASSISTANT:.
  assert.equal(
    prompt,
    "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions. USER: <image>\nWhat is this? ASSISTANT:",
  );
  assert.deepEqual(processor.stopStrings, ['</s>']);
  const v0 = LlavaProcessor.fromPretrained(originalLayoutDir('llava-7b', false, undefined));
  assert.deepEqual(v0.stopStrings, ['###']);
});

test('the golden llava_tiny: input_ids as a 4.47+ processor expands them, and answer() gives the greedy tokens', async () => {
  const { dir, fixture } = golden('llava_tiny');
  const procDir = join(temp.dir, 'llava_tiny');
  mkdirSync(procDir);
  writeGoldenTinyProcessorDir(procDir);
  const processor = LlavaProcessor.fromPretrained(procDir);
  const model = LlavaForConditionalGeneration.fromPretrained(dir);
  const prompt = ids(fixture('input_ids'));
  const words = (row: number[]) => row.map((id) => `w${id}`).join(' ');
  const row0 = prompt.slice(0, 10);
  const row1 = prompt.slice(10, 20);
  const messages: ChatMessage[][] = [
    [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: words(row0.slice(2)) }] }],
    [
      {
        role: 'user',
        content: [
          { type: 'text', text: words(row1.slice(1, 4)) },
          { type: 'image' },
          { type: 'text', text: words(row1.slice(5)) },
        ],
      },
    ],
  ];
  const pixels = fixture('pixel_values');
  const images = [pixels.select(0, 0), pixels.select(0, 1)];
  const inputs = await processor.process({ messages, images });
  assert.deepEqual(ids(inputs.inputIds), ids(fixture('input_ids_expanded')));
  assert.deepEqual(ids(inputs.attentionMask), new Array(50).fill(1));

  const expected = ids(fixture('gen.new_tokens'));
  const sequences = await model.generate({ ...inputs, maxNewTokens: 8, eosTokenId: null });
  assert.deepEqual(ids(sequences.narrow(1, 25, 8)), expected);
  assert.deepEqual(processor.batchDecode(sequences.narrow(1, 25, 8)), [
    words(expected.slice(0, 8)),
    words(expected.slice(8)),
  ]);

  const question = words(row0.slice(2));
  assert.equal(
    await processor.answer({ model, image: images[0], question, maxNewTokens: 8 }),
    words(expected.slice(0, 8)),
  );
  const pieces: string[] = [];
  for await (const piece of processor.answerStream({ model, image: images[0], question, maxNewTokens: 8 }))
    pieces.push(piece);
  assert.deepEqual(
    pieces,
    expected.slice(0, 8).map((id, i) => `${i ? ' ' : ''}w${id}`),
  );
  // A consumer that stops early ends the generation; the next call is unaffected.
  for await (const piece of processor.answerStream({ model, image: images[0], question, maxNewTokens: 8 })) {
    assert.equal(piece, `w${expected[0]}`);
    break;
  }
  assert.equal(
    await processor.answer({ model, image: images[0], question, maxNewTokens: 2 }),
    words(expected.slice(0, 2)),
  );
});

test('without image_seq_length in config.json, a placeholder expands to the vision tower patches', () => {
  const dir = join(temp.dir, 'no-seq-length');
  mkdirSync(dir);
  writeGoldenTinyProcessorDir(dir);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config.image_seq_length;
  writeJson(join(dir, 'config.json'), config);
  // (image_size 32 / patch_size 8)^2 = 16 patches; the 'default' strategy drops CLS.
  assert.equal(LlavaProcessor.fromPretrained(dir).tokensPerImage, 16);
  writeJson(join(dir, 'config.json'), { ...config, vision_feature_select_strategy: 'full' });
  assert.equal(LlavaProcessor.fromPretrained(dir).tokensPerImage, 17);
});
