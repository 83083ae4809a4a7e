// The procedural world: the same scenes for a seed; pixels that agree with the boxes and captions written for
// them (hand-checked geometry on a scene built here, then every generated object's centre pixel); the files the
// data engine reads; contexts that give the scene back.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { readCapsBoxesJsonl } from '../../src/datagen/sources.js';
import {
  COLOUR_RGB,
  makeWorld,
  renderScene,
  sceneContext,
  sceneFromContext,
  writeWorld,
  zone,
  type Scene,
} from '../../src/demo/world.js';

const tmp = mkdtempSync(join(tmpdir(), 'llava-world-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const pixel = (rgb: Buffer, size: number, x: number, y: number) => [
  ...rgb.subarray((y * size + x) * 3, (y * size + x) * 3 + 3),
];

test('a seed gives the same scenes and pixels; another seed other scenes; train and held-out ids never meet', () => {
  const a = makeWorld({ seed: 3, trainImages: 20, heldOutImages: 5 });
  const b = makeWorld({ seed: 3, trainImages: 20, heldOutImages: 5 });
  assert.deepEqual(a, b);
  assert.deepEqual(renderScene(a.train[4]!), renderScene(b.train[4]!));
  assert.notDeepEqual(makeWorld({ seed: 4, trainImages: 20, heldOutImages: 0 }).train, a.train);
  // Growing the train split keeps every held-out scene.
  assert.deepEqual(makeWorld({ seed: 3, trainImages: 40, heldOutImages: 5 }).heldOut, a.heldOut);
  const trainIds = new Set(a.train.map((s) => s.id));
  assert.ok(a.heldOut.every((s) => !trainIds.has(s.id) && /^w\d{6}$/.test(s.id)));
  assert.equal(a.train[7]!.id, 'w000007');
});

test('hand-checked geometry: circle, square, triangle and cross fill what they should', () => {
  const scene: Scene = {
    id: 'hand',
    objects: [
      { shape: 'circle', colour: 'red', size: 'small', box: [0, 0, 14, 14] },
      { shape: 'square', colour: 'blue', size: 'small', box: [30, 0, 44, 14] },
      { shape: 'triangle', colour: 'green', size: 'large', box: [0, 30, 22, 52] },
      { shape: 'cross', colour: 'yellow', size: 'large', box: [40, 40, 62, 62] },
    ],
  };
  const rgb = renderScene(scene, 64);
  const at = (x: number, y: number) => pixel(rgb, 64, x, y);
  const is = (x: number, y: number, colour: keyof typeof COLOUR_RGB) =>
    assert.deepEqual(at(x, y), [...COLOUR_RGB[colour]], `${x},${y}`);
  const background = (x: number, y: number) =>
    assert.ok(
      at(x, y).every((c) => c >= 222),
      `${x},${y} is ${at(x, y)}`,
    );
  is(7, 7, 'red'); // circle centre
  background(0, 0); // outside the circle, inside its box: (0.5, 0.5) is 9.2 px from the centre (radius 7)
  is(0, 7, 'red'); // (0.5, 7.5): 6.5 px from the centre
  is(30, 0, 'blue'); // the square fills its box to the corners
  is(43, 13, 'blue');
  background(44, 7);
  background(11, 30); // the apex row: |11.5 - 11| > (0.5 / 22) * 11, the tip is thinner than a pixel
  is(11, 31, 'green'); // the next row: 0.5 <= (1.5 / 22) * 11
  background(0, 31);
  is(0, 51, 'green'); // the base's left end: (0.5, 51.5)
  is(51, 41, 'yellow'); // the cross's vertical bar (|51.5 - 51| <= 22/6)
  background(41, 41); // its corner
  // Rendered at 128 px the same geometry doubles: the circle's centre and the square's far corner.
  const big = renderScene(scene, 128);
  assert.deepEqual(pixel(big, 128, 14, 14), [...COLOUR_RGB.red]);
  assert.deepEqual(pixel(big, 128, 87, 27), [...COLOUR_RGB.blue]);
});

test('every object of 300 scenes shows its own colour at its box centre and no box is more than 30% covered', () => {
  const { train } = makeWorld({ seed: 0, trainImages: 300, heldOutImages: 0 });
  const counts = [0, 0, 0, 0, 0];
  for (const scene of train) {
    counts[scene.objects.length]!++;
    assert.equal(new Set(scene.objects.map((o) => o.shape)).size, scene.objects.length, 'each shape at most once');
    const rgb = renderScene(scene);
    for (const o of scene.objects) {
      const [x1, y1, x2, y2] = o.box;
      assert.ok(x1 >= 0 && y1 >= 0 && x2 <= 64 && y2 <= 64 && x2 - x1 === (o.size === 'small' ? 14 : 22));
      assert.deepEqual(
        pixel(rgb, 64, (x1 + x2) / 2, (y1 + y2) / 2),
        [...COLOUR_RGB[o.colour]],
        `${scene.id} ${o.shape}`,
      );
      let covered = 0;
      for (let y = y1; y < y2; y++)
        for (let x = x1; x < x2; x++)
          if (scene.objects.some((p) => p !== o && x >= p.box[0] && x < p.box[2] && y >= p.box[1] && y < p.box[3]))
            covered++;
      assert.ok(covered <= 0.3 * (x2 - x1) ** 2, `${scene.id} ${o.shape}: ${covered} px covered`);
    }
  }
  assert.ok(
    counts.slice(1).every((n) => n > 50),
    `every count 1..4 occurs: ${counts}`,
  );
});

test('writeWorld: PNGs and caps/boxes files the data engine reads, boxes and captions true to the pixels', async () => {
  const dir = join(tmp, 'world');
  await writeWorld(dir, { seed: 1, trainImages: 8, heldOutImages: 4 });
  const train = await readCapsBoxesJsonl(join(dir, 'train.jsonl'));
  const heldOut = await readCapsBoxesJsonl(join(dir, 'heldout.jsonl'));
  assert.equal(train.length, 8);
  assert.equal(heldOut.length, 4);
  assert.match(
    readFileSync(join(dir, 'train.jsonl'), 'utf8'),
    /^\{"id": "w000000", "image": "w000000.png", "captions": \[/,
  );
  for (const ctx of [...train, ...heldOut]) {
    assert.equal(ctx.captions.length, 5);
    assert.equal(new Set(ctx.captions).size, 5);
    const { data, info } = await sharp(join(dir, 'images', ctx.image))
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [64, 64, 3]);
    for (const { category, bbox } of ctx.instances) {
      const [colour, shape] = category.split(' ') as [keyof typeof COLOUR_RGB, string];
      assert.ok(bbox.every((v) => v >= 0 && v <= 1 && Number(v.toFixed(3)) === v));
      const cx = Math.floor(((bbox[0] + bbox[2]) / 2) * 64);
      const cy = Math.floor(((bbox[1] + bbox[3]) / 2) * 64);
      assert.deepEqual(pixel(data, 64, cx, cy), [...COLOUR_RGB[colour]], `${ctx.id} ${category}`);
      // Each caption kind names the object truly: the inventory names its colour and shape, one caption its shape.
      assert.ok(ctx.captions[0]!.includes(`${colour} ${shape}`), ctx.captions[0]);
    }
    const count = ['', 'single', 'two', 'three', 'four'][ctx.instances.length]!;
    assert.ok(
      ctx.captions.some((c) => c.toLowerCase().includes(count)),
      `${ctx.id}: ${ctx.captions.join(' | ')}`,
    );
  }
});

test('sceneFromContext gives the scene back: exactly from boxes, shapes, colours, sizes and places from captions', () => {
  const { train } = makeWorld({ seed: 2, trainImages: 200, heldOutImages: 0 });
  for (const scene of train) {
    const ctx = sceneContext(scene, 2);
    assert.deepEqual(sceneFromContext(ctx), scene);
    const fromCaptions = sceneFromContext({ ...ctx, instances: [] });
    const facts = (s: Scene) =>
      s.objects
        .map((o) => [o.shape, o.colour, o.size, zone(o.box)])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    assert.deepEqual(facts(fromCaptions), facts(scene), ctx.captions[0]);
  }
});
