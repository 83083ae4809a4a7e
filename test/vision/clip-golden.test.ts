// CLIP preprocessing against ../shared/golden/clip_preprocess: transformers' CLIPImageProcessor on PIL for four
// images at 224 and 336 (crop) and LLaVA-1.5's 336 pad mode. Bar: mean |diff| <= 0.005 and max <= 0.05 in normalized
// units on every key; the goal, exact to one uint8 level (about 0.015), is asserted too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeImageFile } from '../../src/vision/decode.js';
import { ClipImageProcessor, type PreprocessorConfig } from '../../src/vision/clip-processor.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { sharedPath } from '../helpers/text-golden.js';

const DIR = sharedPath('golden', 'clip_preprocess');
const meta = JSON.parse(readFileSync(resolve(DIR, 'meta.json'), 'utf8')) as {
  images: Record<string, unknown>;
  processors: Record<string, PreprocessorConfig>;
};
const fixtures = SafetensorsFile.open(resolve(DIR, 'fixtures.safetensors'));
function fixture(name: string): { shape: number[]; data: Float32Array } {
  const raw = fixtures.readRaw(name);
  assert.equal(raw.dtype, 'F32', name);
  return { shape: raw.shape, data: new Float32Array(raw.data.buffer, raw.data.byteOffset, raw.data.length / 4) };
}
// One uint8 level divided by the smallest CLIP std, plus float32 slack.
const ONE_LEVEL = 1 / 255 / 0.26130258 + 1e-5;

for (const file of Object.keys(meta.images)) {
  const stem = file.replace(/\.[^.]+$/, '');
  for (const [key, processor, aspect] of [
    ['clip224.crop', 'clip224', 'square'],
    ['clip336.crop', 'clip336', 'square'],
    ['clip336.pad', 'clip336', 'pad'],
  ] as const) {
    test(`${stem}.${key} matches CLIPImageProcessor`, async () => {
      const expected = fixture(`${stem}.${key}`);
      const image = await decodeImageFile(resolve(DIR, 'images', file));
      const got = new ClipImageProcessor(meta.processors[processor]).preprocess(image, aspect);
      assert.deepEqual(got.shape, expected.shape);
      let sum = 0;
      let max = 0;
      for (let i = 0; i < got.data.length; i++) {
        const d = Math.abs(got.data[i]! - expected.data[i]!);
        sum += d;
        if (d > max) max = d;
      }
      const mean = sum / got.data.length;
      assert.ok(mean <= 0.005, `mean |diff| ${mean}`);
      assert.ok(max <= 0.05, `max |diff| ${max}`);
      assert.ok(max <= ONE_LEVEL, `max |diff| ${max} is over one uint8 level`);
    });
  }
}
