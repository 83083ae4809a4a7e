// The original layout's config keys that change what the model sees: tokenizer_model_max_length
// truncates the spliced sequence (spec §5.4 step 4), image_aspect_ratio is exposed for the image
// processor, and what llava-ts does not implement is refused at load by key, value and reason.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/torch/index.js';
import { LlavaForConditionalGeneration } from '../../src/models/index.js';
import { golden, ids, maxAbsDiff } from '../helpers/golden.js';
import { writeOriginalLayout } from './original-layout.js';

const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'llava-config-'));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const { fixture } = golden('llava_tiny');
const originalIds = () => fixture('input_ids').maskedFill(fixture('input_ids').eq(500), -200);

test('tokenizer_model_max_length cuts every spliced row (25 positions here) to its length', () => {
  const { dir } = writeOriginalLayout(tmp(), { tokenizer_model_max_length: 20 });
  const model = LlavaForConditionalGeneration.fromPretrained(dir);
  assert.equal(model.config.tokenizer_model_max_length, 20);
  const input = {
    inputIds: originalIds(),
    attentionMask: fixture('attention_mask'),
    pixelValues: fixture('pixel_values'),
  };
  const out = T.noGrad(() => model.forward(input));
  assert.deepEqual(out.logits.shape, [2, 20, 512]);
  // A causal model: the first 20 positions see exactly what they saw before the cut.
  assert.ok(maxAbsDiff(out.logits, fixture('logits').narrow(1, 0, 20)) <= 1e-5);
  assert.deepEqual(ids(out.attentionMask), new Array(40).fill(1));
  const labels = model.prepareInputs({ ...input, labels: fixture('labels') }).labels!;
  // row 0: BOS, 16 image slots (-100), then its text labels from position 2 on; cut at 20
  assert.deepEqual(ids(labels.select(0, 0)), [-100, ...new Array(16).fill(-100), 334, 308, 252]);
});

test('with a cap, padding is dropped before the cut and rows are re-padded (left-padded batch)', () => {
  const { dir } = writeOriginalLayout(tmp(), { tokenizer_model_max_length: 19 });
  const model = LlavaForConditionalGeneration.fromPretrained(dir);
  const I = -200;
  const inputIds = T.tensor(BigInt64Array.from([0, 0, 1, I, 7, 1, I, 7, 8, 9].map(BigInt)), [2, 5]);
  const attentionMask = T.tensor(BigInt64Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1].map(BigInt)), [2, 5]);
  const pixels = fixture('pixel_values');
  const prepared = T.noGrad(() => model.prepareInputs({ inputIds, attentionMask, pixelValues: pixels }));
  // real lengths 1 + 16 + 1 = 18 and 1 + 16 + 3 = 20 -> 18 and 19; width 19, padded on the left
  assert.deepEqual(ids(prepared.attentionMask!), [0, ...new Array(18).fill(1), ...new Array(19).fill(1)]);
  assert.deepEqual(ids(prepared.positionIds!), [
    1,
    ...Array.from({ length: 18 }, (_, i) => i),
    ...Array.from({ length: 19 }, (_, i) => i),
  ]);
  const features = T.noGrad(() => model.imageFeatures(pixels));
  const embed = (id: number) => model.language_model.model.embed_tokens.weight.select(0, id).view(1, -1);
  const row0 = T.cat([T.zeros([1, 64]), embed(1), features.select(0, 0), embed(7)]);
  const row1 = T.cat([embed(1), features.select(0, 1), embed(7), embed(8)]);
  assert.equal(maxAbsDiff(prepared.inputsEmbeds!.select(0, 0), row0), 0);
  assert.equal(maxAbsDiff(prepared.inputsEmbeds!.select(0, 1), row1), 0);
});

test('image_aspect_ratio pad or square is exposed for the image processor; square by default', () => {
  assert.equal(
    LlavaForConditionalGeneration.fromPretrained(writeOriginalLayout(tmp()).dir).config.image_aspect_ratio,
    'pad',
  );
  const { dir } = writeOriginalLayout(tmp(), { image_aspect_ratio: undefined });
  assert.equal(LlavaForConditionalGeneration.fromPretrained(dir).config.image_aspect_ratio, 'square');
});

test('what llava-ts does not implement is refused at load, naming the key, its value and why', () => {
  const refused: [Record<string, unknown>, RegExp][] = [
    [
      { mm_use_im_start_end: true },
      /mm_use_im_start_end true is not supported: the checkpoint expects <im_start>\/<im_end> tokens around every image/,
    ],
    [
      { image_aspect_ratio: 'anyres' },
      /image_aspect_ratio "anyres" is not supported: LLaVA-1\.6's any-resolution tiling/,
    ],
    [
      { image_aspect_ratio: 'stretch' },
      /image_aspect_ratio "stretch" is not supported: it is not a known layout \(expected 'pad' or 'square'\)/,
    ],
    [
      { mm_vision_select_layer: [-2, -5] },
      /mm_vision_select_layer \[-2,-5\] is not one layer index: concatenating several CLIP layers/,
    ],
    [{ tokenizer_model_max_length: 0 }, /tokenizer_model_max_length 0 is not a positive integer/],
  ];
  for (const [config, error] of refused) {
    const { dir } = writeOriginalLayout(tmp(), config);
    assert.throws(() => LlavaForConditionalGeneration.fromPretrained(dir), error, JSON.stringify(config));
  }
  // llava-hf's own key, as newer transformers writes a list
  const hf = tmp();
  const src = golden('llava_tiny').dir;
  const json = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
  writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...json, vision_feature_layer: [-2, -1] }));
  symlinkSync(join(src, 'model.safetensors'), join(hf, 'model.safetensors'));
  assert.throws(
    () => LlavaForConditionalGeneration.fromPretrained(hf),
    /vision_feature_layer \[-2,-1\] is not one layer index/,
  );
  copyFileSync(join(src, 'config.json'), join(hf, 'config.json'));
  assert.equal(LlavaForConditionalGeneration.fromPretrained(hf).config.tokenizer_model_max_length, null);
});
