// CLIP preprocessing against ../shared/golden/clip_preprocess: transformers' CLIPImageProcessor on PIL for four
// images at 224 and 336 (crop) and LLaVA-1.5's 336 pad mode. The fixture README's bar is mean |diff| <= 0.005; ours
// reimplements PIL's separable bicubic with its per-pass uint8 rounding, so every key must be bit-identical.
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
      let max = 0;
      for (let i = 0; i < got.data.length; i++) max = Math.max(max, Math.abs(got.data[i]! - expected.data[i]!));
      assert.equal(max, 0, `max |diff| ${max}: not bit-identical to CLIPImageProcessor`);
    });
  }
}
