// preprocessor_config.json handling and the geometric steps, against hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { centerCrop, ClipImageProcessor, expandToSquare } from '../../src/vision/clip-processor.js';
import { tempDir } from '../helpers/text-images.js';

const dir = tempDir('llava-proc-');

test('older CLIP configs with integer size/crop_size mean shortest edge and a square crop', () => {
  const path = join(dir, 'preprocessor_config.json');
  writeFileSync(
    path,
    JSON.stringify({
      size: 224,
      crop_size: 224,
      do_center_crop: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
      resample: 3,
    }),
  );
  const p = ClipImageProcessor.fromFile(path);
  assert.deepEqual(p.size, { shortestEdge: 224 });
  assert.deepEqual(p.outputSize, { height: 224, width: 224 });
  // A 448x224 white image: resized to 448x224 (no-op: shortest edge already 224) and cropped to 224x224.
  const white = { data: new Uint8Array(448 * 224 * 3).fill(255), width: 448, height: 224 };
  const out = p.preprocess(white);
  assert.deepEqual(out.shape, [3, 224, 224]);
  assert.ok(out.data.every((v) => v === 1)); // (1 - 0.5) / 0.5
});

test('unsupported or unreadable configs are errors that say what and where', () => {
  assert.throws(() => new ClipImageProcessor({ resample: 2 }), /resample 2 is not supported/);
  assert.throws(() => new ClipImageProcessor({ size: {} }), /size \{\} needs shortest_edge or height and width/);
  assert.throws(() => new ClipImageProcessor({ image_mean: [0.5] }), /image_mean and image_std need 3 values/);
  assert.throws(() => ClipImageProcessor.fromFile(join(dir, 'missing.json')), /cannot read .*missing\.json/);
});

test('expand2square pastes at floor-centred offsets on the mean colour (122, 116, 104)', () => {
  const p = new ClipImageProcessor();
  const background = p.mean.map((m) => Math.trunc(m * 255));
  assert.deepEqual(background, [122, 116, 104]);
  // 2x5 (w x h): side 5, x offset floor(3 / 2) = 1, so columns 1-2 hold the image and 0, 3, 4 the background.
  const img = { data: new Uint8Array(2 * 5 * 3).fill(9), width: 2, height: 5 };
  const sq = expandToSquare(img, background as [number, number, number]);
  const row0 = Array.from(sq.data.subarray(0, 15));
  assert.deepEqual(row0, [122, 116, 104, 9, 9, 9, 9, 9, 9, 122, 116, 104, 122, 116, 104]);
});

test('centre crop takes floor((H - h) / 2), floor((W - w) / 2)', () => {
  // 5x1 image with values 0..4 per pixel, crop 2 wide: left = floor(3 / 2) = 1, so pixels 1 and 2.
  const img = { data: Uint8Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]), width: 5, height: 1 };
  assert.deepEqual(Array.from(centerCrop(img, 1, 2).data), [1, 1, 1, 2, 2, 2]);
  assert.throws(() => centerCrop(img, 2, 2), /centre crop 2x2 is larger than the resized image 5x1/);
});
