import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  cocoBoxToNormalized,
  pythonFloatRepr,
  readCapsBoxesJsonl,
  readCoco,
  renderContext,
  roundPython3,
  type ImageContext,
} from '../../src/datagen/index.js';
import { CAPS_BOXES_80, REFERENCE_PROMPTS } from './paths.js';
import { tempDir } from './tmp.js';

test('roundPython3 matches Python round(x, 3), exact ties to even', () => {
  // Expected values printed by CPython 3.11 `round(x, 3)`.
  const cases: [number, number][] = [
    [0.0625, 0.062],
    [0.1875, 0.188],
    [0.3125, 0.312],
    [0.9375, 0.938],
    [-0.0625, -0.062],
    [0.0005, 0.001],
    [0.0015, 0.002],
    [0.1235, 0.123],
    [0.2345, 0.234],
    [0.6665, 0.666],
    [2.675, 2.675],
    [0.37578125, 0.376],
    [1, 1],
  ];
  for (const [x, expected] of cases) assert.equal(roundPython3(x), expected, `round(${x}, 3)`);
});

test('pythonFloatRepr matches Python repr(float)', () => {
  // Expected strings printed by CPython 3.11 `repr(x)`.
  const cases: [number, string][] = [
    [0.37, '0.37'],
    [1, '1.0'],
    [0, '0.0'],
    [1e-5, '1e-05'],
    [1.5e16, '1.5e+16'],
    [123.456, '123.456'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1e15, '1000000000000000.0'],
    [0.0001, '0.0001'],
    [-2.5, '-2.5'],
    [1e-7, '1e-07'],
    [1e22, '1e+22'],
  ];
  for (const [x, expected] of cases) assert.equal(pythonFloatRepr(x), expected);
});

test('COCO pixel xywh becomes normalised x1,y1,x2,y2 rounded as Python does', () => {
  // Hand-computed: 40/640 = 0.0625 (tie -> 0.062), 120/480 = 0.25, 240.5/640 = 0.37578125, 180/480 = 0.375.
  assert.deepEqual(cocoBoxToNormalized([40, 120, 200.5, 60], 640, 480), [0.062, 0.25, 0.376, 0.375]);
  assert.deepEqual(cocoBoxToNormalized([0, 10.3, 500, 300.7], 500, 375), [0, 0.027, 1, 0.829]);
});

/** Parses a reference NNN_caps.txt back into captions and boxes, by the format spec §2.2 describes. */
function parseCapsFile(text: string): ImageContext {
  const [captions, boxes = ''] = text.split('\n\n') as [string, string?];
  return {
    id: 'x',
    image: 'x.jpg',
    captions: captions.split('\n'),
    instances:
      boxes === ''
        ? []
        : boxes.split('\n').map((line) => {
            const m = /^(.+): \[(.+)\]$/.exec(line)!;
            return { category: m[1]!, bbox: m[2]!.split(', ').map(Number) as [number, number, number, number] };
          }),
  };
}

test('renderContext reproduces every reference few-shot caps file byte for byte', async () => {
  const files = [
    ['conversation/000_caps.txt', false],
    ['conversation/001_caps.txt', false],
    ['detail_description/000_caps.txt', true],
    ['detail_description/001_caps.txt', true],
    ['detail_description/002_caps.txt', true],
    ['complex_reasoning/000_caps.txt', true],
    ['complex_reasoning/001_caps.txt', true],
    ['complex_reasoning/002_caps.txt', true],
  ] as const;
  for (const [file, withBoxes] of files) {
    const text = await readFile(join(REFERENCE_PROMPTS, file), 'utf8');
    assert.equal(renderContext(parseCapsFile(text), withBoxes), text, file);
  }
});

test('an image without boxes renders as its captions alone; conversation never shows boxes', () => {
  const context: ImageContext = { id: '1', image: '1.jpg', captions: ['A cat.', 'a dog'], instances: [] };
  assert.equal(renderContext(context, true), 'A cat.\na dog');
  const withBox: ImageContext = { ...context, instances: [{ category: 'fire hydrant', bbox: [0, 0.5, 1, 0.25] }] };
  assert.equal(renderContext(withBox, true), 'A cat.\na dog\n\nfire hydrant: [0.0, 0.5, 1.0, 0.25]');
  assert.equal(renderContext(withBox, false), 'A cat.\na dog');
});

test('readCapsBoxesJsonl reads the 80 reference records', async () => {
  const contexts = await readCapsBoxesJsonl(CAPS_BOXES_80);
  assert.equal(contexts.length, 80);
  assert.equal(contexts[0]!.id, '000000296284');
  assert.equal(contexts[0]!.image, '000000296284.jpg');
  assert.equal(contexts[0]!.captions[0], 'A donut shop is full of different flavors of donuts.');
  assert.deepEqual(contexts[0]!.instances[0], { category: 'donut', bbox: [0.37, 0.584, 0.504, 0.709] });
});

test('bad JSONL input names the file, the line and the field', async () => {
  const dir = await tempDir('ctx');
  const path = join(dir, 'in.jsonl');
  const good = '{"id": "1", "image": "1.jpg", "captions": ["c"], "instances": []}';
  const cases: [string, RegExp][] = [
    [
      '{"id": "2", "image": "2.jpg", "captions": ["c"], "instances": [{"category": "cat", "bbox": [0, 1, 2]}]}',
      /in\.jsonl:2: instances\[0\]\.bbox must be 4 finite numbers/,
    ],
    [
      '{"id": "2", "image": "2.jpg", "captions": []}',
      /in\.jsonl:2: "captions" must be a non-empty array of strings \(id 2\)/,
    ],
    ['{"id": "2", "captions": ["c"]}', /in\.jsonl:2: "image" must be a non-empty string/],
    ['{"id": "2", "image": ', /in\.jsonl:2: not valid JSON/],
    ['[1, 2]', /in\.jsonl:2: expected a JSON object/],
  ];
  for (const [line, message] of cases) {
    await writeFile(path, `${good}\n${line}\n`);
    await assert.rejects(readCapsBoxesJsonl(path), message);
  }
});

test('readCoco joins captions and instances, pads ids, keeps annotation order', async () => {
  const dir = await tempDir('coco');
  const images = [
    { id: 139, file_name: '000000000139.jpg', width: 640, height: 480 },
    { id: 285, file_name: '000000000285.jpg', width: 500, height: 375 },
  ];
  await writeFile(
    join(dir, 'captions.json'),
    JSON.stringify({
      images,
      annotations: [
        { image_id: 285, id: 1, caption: 'A big bear.' },
        { image_id: 139, id: 2, caption: 'A living room.' },
        { image_id: 285, id: 3, caption: 'a brown bear sitting' },
      ],
    }),
  );
  await writeFile(
    join(dir, 'instances.json'),
    JSON.stringify({
      images,
      categories: [
        { id: 23, name: 'bear' },
        { id: 64, name: 'potted plant' },
      ],
      annotations: [
        { image_id: 285, category_id: 23, bbox: [0, 10.3, 500, 300.7], iscrowd: 0 },
        { image_id: 139, category_id: 64, bbox: [40, 120, 200.5, 60], iscrowd: 0 },
      ],
    }),
  );
  const contexts = await readCoco(join(dir, 'captions.json'), join(dir, 'instances.json'));
  assert.deepEqual(contexts, [
    {
      id: '000000000139',
      image: '000000000139.jpg',
      captions: ['A living room.'],
      instances: [{ category: 'potted plant', bbox: [0.062, 0.25, 0.376, 0.375] }],
    },
    {
      id: '000000000285',
      image: '000000000285.jpg',
      captions: ['A big bear.', 'a brown bear sitting'],
      instances: [{ category: 'bear', bbox: [0, 0.027, 1, 0.829] }],
    },
  ]);
  assert.equal(renderContext(contexts[0]!, true), 'A living room.\n\npotted plant: [0.062, 0.25, 0.376, 0.375]');

  await writeFile(
    join(dir, 'bad.json'),
    JSON.stringify({ images, categories: [], annotations: [{ image_id: 139, category_id: 1, bbox: [0, 0, 1, 1] }] }),
  );
  await assert.rejects(
    readCoco(join(dir, 'captions.json'), join(dir, 'bad.json')),
    /bad\.json: annotations\[0\]\.category_id 1 is not in "categories"/,
  );
});

test('COCO files are streamed: multi-megabyte files, categories after annotations, escapes and non-ASCII across chunks', async () => {
  const dir = await tempDir('coco-big');
  const n = 3000; // with polygons this is ~4 MB, several read chunks
  const images = Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    file_name: `${i + 1}.jpg`,
    width: 640,
    height: 480,
    license: 1,
  }));
  await writeFile(
    join(dir, 'captions.json'),
    JSON.stringify({
      info: { description: 'test "quoted" \\ [brackets] {braces}' },
      images,
      annotations: images.map((im) => ({
        image_id: im.id,
        id: im.id,
        caption: `Ein Bär, "Nr. ${im.id}" [a] {b} \\ é 🐻`,
      })),
    }),
  );
  await writeFile(
    join(dir, 'instances.json'),
    JSON.stringify({
      info: {},
      licenses: [{ id: 1, name: 'x' }],
      images,
      annotations: images.map((im) => ({
        segmentation: [Array.from({ length: 150 }, (_, k) => 100 + k * 0.25)],
        area: 1,
        iscrowd: 0,
        image_id: im.id,
        bbox: [40, 120, 200.5, 60],
        category_id: 64,
        id: im.id,
      })),
      categories: [{ supercategory: 'furniture', id: 64, name: 'potted plant' }],
    }),
  );
  const contexts = await readCoco(join(dir, 'captions.json'), join(dir, 'instances.json'));
  assert.equal(contexts.length, n);
  for (const [i, c] of contexts.entries()) {
    assert.deepEqual(c.captions, [`Ein Bär, "Nr. ${i + 1}" [a] {b} \\ é 🐻`]);
    assert.deepEqual(c.instances, [{ category: 'potted plant', bbox: [0.062, 0.25, 0.376, 0.375] }]);
  }
  const text = await readFile(join(dir, 'instances.json'), 'utf8');
  await writeFile(join(dir, 'truncated.json'), text.slice(0, text.length - 100));
  await assert.rejects(
    readCoco(join(dir, 'captions.json'), join(dir, 'truncated.json')),
    /truncated\.json: the JSON ends early/,
  );
  await assert.rejects(
    readCoco(join(dir, 'missing.json'), join(dir, 'instances.json')),
    /missing\.json: cannot read COCO annotations \(ENOENT/,
  );
  await writeFile(join(dir, 'array.json'), '[]');
  await assert.rejects(
    readCoco(join(dir, 'array.json'), join(dir, 'instances.json')),
    /array\.json: not a COCO annotation file/,
  );
});

test('caps/boxes input may also be one JSON array', async () => {
  const dir = await tempDir('array');
  const lines = (await readFile(CAPS_BOXES_80, 'utf8')).split('\n').filter((l) => l);
  await writeFile(join(dir, 'caps.json'), `[\n${lines.slice(0, 3).join(',\n')}\n]`);
  assert.deepEqual(
    await readCapsBoxesJsonl(join(dir, 'caps.json')),
    (await readCapsBoxesJsonl(CAPS_BOXES_80)).slice(0, 3),
  );
});
