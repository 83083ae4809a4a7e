// The whole path from an instruction file and an image folder to collated batches: golden ids and labels through
// the dataset, bad samples raised or skipped and reported, worker threads giving the same items, and resumable,
// modality-grouped epochs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SupervisedDataset, type SupervisedDataOptions } from '../../src/data/supervised-dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { WorkerPool } from '../../src/data/worker-pool.js';
import { ImageRoot } from '../../src/data/image-root.js';
import { ClipImageProcessor } from '../../src/vision/clip-processor.js';
import { decodeImageFile } from '../../src/vision/decode.js';
import { goldenRoot } from '../helpers/golden.js';
import { goldenSamples, readJsonl, type GoldenCase } from '../helpers/text-golden.js';
import { coordinates, rawImage, tempDir } from '../helpers/text-images.js';

const root = tempDir('llava-ds-');
const images = join(root, 'images');
const golden = goldenSamples().filter((s) =>
  ['vis-01', 'vis-02', 'vis-03', 'vis-06', 'vis-09', 'vis-10', 'vis-11'].some((p) => s.id.startsWith(p)),
);
const cases = readJsonl<GoldenCase>('cases.jsonl').filter((c) => c.version === 'v1' && !c.legacy);

async function writeImages(): Promise<void> {
  for (const [k, s] of golden.entries()) {
    if (!s.image) continue;
    const path = join(images, s.image);
    mkdirSync(dirname(path), { recursive: true });
    await rawImage(coordinates(20 + k, 12), 20 + k, 12, 3)
      .jpeg()
      .toFile(path);
  }
}

const options = (dataPath: string, extra: Partial<SupervisedDataOptions> = {}): SupervisedDataOptions => ({
  dataPath,
  imageFolder: images,
  tokenizerDir: join(goldenRoot, 'llava_preprocess', 'tokenizer'), // LLaMA's tokenizer.model, legacy false
  version: 'v1',
  imageAspectRatio: 'pad',
  ...extra,
});

test('image paths stay inside the image folder: ../, absolute paths and symlinks out are refused', () => {
  const dir = tempDir('llava-root-');
  mkdirSync(join(dir, 'in'));
  writeFileSync(join(dir, 'in', 'ok.jpg'), 'x');
  writeFileSync(join(dir, 'secret.jpg'), 'x');
  symlinkSync(join(dir, 'secret.jpg'), join(dir, 'in', 'link.jpg'));
  const r = new ImageRoot(join(dir, 'in'));
  assert.equal(r.resolve('ok.jpg'), join(dir, 'in', 'ok.jpg'));
  assert.throws(() => r.resolve('../secret.jpg'), /leaves the image folder/);
  assert.throws(() => r.resolve('a/../../secret.jpg'), /leaves the image folder/);
  assert.throws(() => r.resolve(join(dir, 'secret.jpg')), /is absolute/);
  assert.throws(() => r.resolve('link.jpg'), /is a link to .*outside the image folder/);
  assert.throws(() => r.resolve('nope.jpg'), /image nope\.jpg not found/);
  assert.throws(() => new ImageRoot(join(dir, 'missing')), /image folder .* does not exist/);
});

test('items carry the golden ids and labels, the processed image, and a zero image for text-only samples', async () => {
  await writeImages();
  const dataPath = join(root, 'golden.json');
  writeFileSync(dataPath, JSON.stringify(golden));
  const ds = await SupervisedDataset.open(options(dataPath, { preprocessorConfig: undefined }));
  const processor = new ClipImageProcessor();
  for (let i = 0; i < golden.length; i++) {
    const item = await ds.get(i);
    const expected = cases.find((c) => c.id === golden[i]!.id)!;
    assert.deepEqual(Array.from(item.inputIds), expected.input_ids, golden[i]!.id);
    assert.deepEqual(Array.from(item.labels), expected.labels, golden[i]!.id);
    if (golden[i]!.image) {
      const want = processor.preprocess(await decodeImageFile(join(images, golden[i]!.image!)), 'pad');
      assert.deepEqual(item.pixelValues, want);
    } else {
      assert.deepEqual(item.pixelValues!.shape, [3, 224, 224]);
      assert.ok(item.pixelValues!.data.every((v) => v === 0));
    }
  }
  ds.close();
});

test('worker threads return exactly the in-process items', async () => {
  const dataPath = join(root, 'golden.json');
  const ds = await SupervisedDataset.open(options(dataPath));
  const pool = new WorkerPool(ds, 2);
  try {
    const [local, remote] = await Promise.all([
      Promise.all(golden.map((_, i) => ds.get(i))),
      Promise.all(golden.map((_, i) => pool.get(i))),
    ]);
    assert.deepEqual(remote, local);
  } finally {
    await pool.close();
    ds.close();
  }
});

test('bad samples: a clear error naming the record, or skipped and reported without misaligning the rest', async () => {
  const bad = [
    {
      id: 'missing',
      image: 'coco/none.jpg',
      conversations: [
        { from: 'human', value: '<image>\nQ' },
        { from: 'gpt', value: 'A' },
      ],
    },
    {
      id: 'escape',
      image: '../golden.json',
      conversations: [
        { from: 'human', value: '<image>\nQ' },
        { from: 'gpt', value: 'A' },
      ],
    },
    {
      id: 'gpt-gpt',
      conversations: [
        { from: 'human', value: 'Q' },
        { from: 'human', value: 'Q again' },
      ],
    },
  ];
  const dataPath = join(root, 'mixed.jsonl');
  writeFileSync(dataPath, [golden[0], ...bad, golden[4]].map((s) => JSON.stringify(s)).join('\n'));
  const ds = await SupervisedDataset.open(options(dataPath));
  await assert.rejects(ds.get(1), new RegExp(`mixed\\.jsonl:2 \\(id missing\\): image coco/none\\.jpg not found`));
  await assert.rejects(
    ds.get(2),
    /mixed\.jsonl:3 \(id escape\): image path \.\.\/golden\.json leaves the image folder/,
  );
  await assert.rejects(ds.get(3), /mixed\.jsonl:4 \(id gpt-gpt\): turn 1: speakers must alternate/);

  const strict = new DataLoader(ds, { batchSize: 5, seed: 1 });
  await assert.rejects(async () => {
    for await (const _ of strict.epoch(0)) {
      /* consume */
    }
  }, /not found|leaves|alternate/);

  const loader = new DataLoader(ds, { batchSize: 5, seed: 1, onBadSample: 'skip' });
  const batches = [];
  for await (const b of loader.epoch(0)) batches.push(b);
  assert.equal(batches.length, 1);
  assert.deepEqual([...batches[0]!.indices].sort(), [0, 4]);
  assert.deepEqual(loader.report.skipped.map((s) => s.index).sort(), [1, 2, 3]);
  const row = batches[0]!.indices.indexOf(0);
  const T = batches[0]!.batch.shape[1];
  const want = cases.find((c) => c.id === golden[0]!.id)!.input_ids;
  assert.deepEqual(Array.from(batches[0]!.batch.inputIds.subarray(row * T, row * T + want.length), Number), want);
  assert.deepEqual(batches[0]!.batch.pixelShape, [2, 3, 224, 224]);
  ds.close();
});

test('epochs: seeded, grouped by modality, and resumable at any step', async () => {
  const dataPath = join(root, 'golden.json');
  const ds = await SupervisedDataset.open(options(dataPath));
  const run = async (epoch: number, start = 0, seed = 3) => {
    const out = [];
    for await (const b of new DataLoader(ds, { batchSize: 2, seed, groupByModalityLength: true }).epoch(epoch, start))
      out.push(b);
    return out;
  };
  const full = await run(0);
  assert.deepEqual(
    full.map((b) => b.step),
    [0, 1, 2, 3],
  );
  assert.deepEqual(
    full.flatMap((b) => b.indices).sort(),
    golden.map((_, i) => i),
  );
  // 5 image and 2 text-only samples, megabatches of 2: two full image megabatches (one modality each) in seeded
  // order, then the leftovers (1 image + 2 text) merged and sorted by index, as the reference does.
  for (const b of full.slice(0, 2)) assert.deepEqual(Array.from(b.hasImage), [1, 1], `step ${b.step}`);
  const tail = full.slice(2).flatMap((b) => b.indices);
  assert.deepEqual(
    tail,
    [...tail].sort((a, b) => a - b),
  );
  assert.deepEqual(tail.filter((i) => !golden[i]!.image).sort(), [4, 5]);
  const resumed = await run(0, 2);
  assert.deepEqual(
    resumed.map((b) => [b.step, b.indices]),
    full.slice(2).map((b) => [b.step, b.indices]),
  );
  assert.deepEqual(
    resumed.map((b) => b.batch),
    full.slice(2).map((b) => b.batch),
  );
  assert.deepEqual(
    (await run(0)).map((b) => b.indices),
    full.map((b) => b.indices),
  );
  const otherEpoch = (await run(1)).map((b) => b.indices);
  const otherSeed = (await run(0, 0, 4)).map((b) => b.indices);
  assert.ok(
    JSON.stringify(otherEpoch) !== JSON.stringify(full.map((b) => b.indices)) ||
      JSON.stringify(otherSeed) !== JSON.stringify(full.map((b) => b.indices)),
  );
  ds.close();
});

test('two ranks split every epoch between them: each sample once, the same steps on both', async () => {
  const ds = await SupervisedDataset.open(options(join(root, 'golden.json')));
  const seen: number[] = [];
  const steps: number[][] = [];
  for (const rank of [0, 1]) {
    const loader = new DataLoader(ds, { batchSize: 2, seed: 5, worldSize: 2, rank, groupByModalityLength: true });
    assert.equal(loader.stepsPerEpoch, 2); // 7 samples / (2 per rank x 2 ranks), rounded up
    const mine: number[] = [];
    for await (const b of loader.epoch(0)) {
      seen.push(...b.indices);
      mine.push(b.step);
    }
    steps.push(mine);
  }
  assert.deepEqual(
    seen.sort(),
    golden.map((_, i) => i),
  );
  assert.deepEqual(steps[0], [0, 1]);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, seed: 5, worldSize: 2, rank: 2 }), /rank 2 is outside 0\.\.1/);
  ds.close();
});
