// Stage 0 on data made here (solid-colour squares whose captions name the colour; sentences about them): CLIP's
// held-out retrieval rises far above chance within a few dozen steps, the LLM's loss falls, and both folders reload
// (CLIPModel, CLIPVisionModel, the image processor, LlamaForCausalLM, the tokenizer) with equal outputs.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { trainClip, trainLlm } from '../../src/demo/stage0.js';
import { buildTokenizer } from '../../src/demo/tokenizer.js';
import { CLIPModel } from '../../src/models/clip-model.js';
import { CLIPVisionModel, LlamaForCausalLM } from '../../src/models/index.js';
import { noGrad, tensor, type Tensor } from '../../src/torch/index.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { ClipImageProcessor, decodeImageFile } from '../../src/vision/index.js';

const COLOURS: Record<string, [number, number, number]> = {
  red: [220, 30, 30],
  green: [30, 200, 40],
  blue: [30, 40, 220],
  yellow: [230, 220, 30],
  purple: [140, 40, 190],
  orange: [240, 140, 20],
};
const CAPTIONS = ['a {} square.', 'the picture is {}.', 'an image filled with {}.', 'this square is {}.'];

let root: string;
let tokenizerDir: string;
let pairs: { image: string; caption: string }[];
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'llava-stage0-'));
  pairs = [];
  // 8 shades per colour; the last round (one image of each colour) is the held-out batch.
  for (let shade = 0; shade < 8; shade++) {
    for (const [name, rgb] of Object.entries(COLOURS)) {
      const image = join(root, `${name}-${shade}.png`);
      const [r, g, b] = rgb.map((c) => Math.max(0, Math.min(255, c + (shade - 4) * 6)));
      await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: r!, g: g!, b: b! } } })
        .png()
        .toFile(image);
      for (const c of CAPTIONS) pairs.push({ image, caption: c.replace('{}', name) });
    }
  }
  tokenizerDir = join(root, 'tokenizer');
  buildTokenizer(
    pairs.map((p) => p.caption),
    tokenizerDir,
  );
});
after(() => rmSync(root, { recursive: true, force: true }));

const values = (t: Tensor) => Array.from(t.toTypedArray() as ArrayLike<number>, Number);

test('trainClip: held-out retrieval far above chance after a few dozen steps; the folder reloads with equal outputs', async () => {
  const lines: string[] = [];
  const outDir = join(root, 'clip');
  const options = {
    vision: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, patch_size: 16 },
    text: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, max_position: 8 },
    projection_dim: 16,
    imageSize: 64,
    steps: 40,
    batchSize: 6,
    learningRate: 3e-3,
    seed: 0,
    heldOut: 6,
    log: (l: string) => lines.push(l),
  };
  const result = await trainClip(pairs, tokenizerDir, outDir, options);
  assert.equal(result.losses.length, 40);
  assert.match(lines[0]!, /^clip: 48 images \(6 held out\), 192 captions of at most 8 tokens$/);
  assert.equal(lines.filter((l) => l.startsWith('clip step')).length, 10);
  assert.match(lines.at(-1)!, /^clip step 40\/40 {2}loss \d.* held-out retrieval i→t \d/);
  assert.equal(result.after.chance, 1 / 6);
  assert.ok(result.after.imageToText >= 0.8 && result.after.textToImage >= 0.8, JSON.stringify(result));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(result.losses.slice(-5)) < mean(result.losses.slice(0, 5)) - 0.5);

  for (const f of [
    'config.json',
    'model.safetensors',
    'preprocessor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
  ])
    assert.ok(existsSync(join(outDir, f)), f);
  const config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
  assert.equal(config.text_config.vocab_size, TextTokenizer.fromDir(outDir).vocabSize);
  const processor = ClipImageProcessor.fromFile(join(outDir, 'preprocessor_config.json'));
  const pixels = processor.preprocess(await decodeImageFile(pairs[0]!.image));
  assert.deepEqual(pixels.shape, [3, 64, 64]);
  noGrad(() => {
    const pixelValues = tensor(pixels.data, [1, 3, 64, 64]);
    const inputIds = tensor(BigInt64Array.from([1n, 5n, 6n, 0n, 0n, 0n, 0n, 0n]), [1, 8]);
    const reloaded = CLIPModel.fromPretrained(outDir).eval();
    const a = result.model.eval().forward({ inputIds, pixelValues });
    const b = reloaded.forward({ inputIds, pixelValues });
    assert.deepEqual(values(b.imageEmbeds), values(a.imageEmbeds));
    assert.deepEqual(values(b.textEmbeds), values(a.textEmbeds));
    const vision = CLIPVisionModel.fromPretrained(outDir);
    assert.deepEqual(
      values(vision.hiddenState(pixelValues, 1)),
      values(result.model.vision.hiddenState(pixelValues, 1)),
    );
  });
});

test('trainLlm: the loss falls; the LlamaForCausalLM folder reloads with equal logits and its tokenizer', () => {
  const texts = pairs.map((p) => `USER: What colour is it? ASSISTANT: ${p.caption}`);
  const lines: string[] = [];
  const outDir = join(root, 'llm');
  const options = {
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    max_position_embeddings: 64,
    blockSize: 32,
    steps: 30,
    batchSize: 8,
    learningRate: 3e-3,
    seed: 0,
    log: (l: string) => lines.push(l),
  };
  const result = trainLlm(texts, tokenizerDir, outDir, options);
  assert.match(lines[0]!, /^llm: \d+ rows of 32 tokens \(\d+ held out\), vocabulary \d+$/);
  assert.equal(lines.filter((l) => l.startsWith('llm step')).length, 10);
  assert.ok(result.heldOutLoss.after < result.heldOutLoss.before - 1, JSON.stringify(result.heldOutLoss));
  assert.ok(result.losses.at(-1)! < result.losses[0]! - 1);
  for (const f of [
    'config.json',
    'model.safetensors',
    'generation_config.json',
    'tokenizer.json',
    'special_tokens_map.json',
  ])
    assert.ok(existsSync(join(outDir, f)), f);
  const tokenizer = TextTokenizer.fromDir(outDir);
  noGrad(() => {
    const ids = tokenizer.encode('USER: What colour');
    const inputIds = tensor(BigInt64Array.from(ids, BigInt), [1, ids.length]);
    const reloaded = LlamaForCausalLM.fromPretrained(outDir);
    assert.equal(reloaded.config.vocab_size, tokenizer.vocabSize);
    assert.deepEqual(values(reloaded.forward({ inputIds }).logits), values(result.model.forward({ inputIds }).logits));
  });
  assert.deepEqual(
    trainLlm(texts, tokenizerDir, join(root, 'llm-again'), { ...options, log: undefined }).losses,
    result.losses,
  );
});
