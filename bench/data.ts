// The whole data path — decode (sharp), CLIP 336 pad preprocessing, template + tokenisation + label masking,
// collation — in samples per second on a folder of JPEGs, in one thread and with worker threads, beside the rate
// a training step consumes. Anchor: a PyTorch stage-2 step of the small model of the models issue (batch 2 x 640
// tokens in 6.6 s = 0.30 samples/s); target: at least 5x that, so data never starves training.
// Usage: node dist/bench/data.js [samples, default 96] [worker threads, default all cores]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { SupervisedDataset, type SupervisedDataOptions } from '../src/data/supervised-dataset.js';
import { indexInstructionFile } from '../src/data/instruction-index.js';
import { DataLoader, type ItemSource } from '../src/data/loader.js';
import { WorkerPool } from '../src/data/worker-pool.js';
import { collate } from '../src/data/collate.js';
import { ClipImageProcessor } from '../src/vision/clip-processor.js';
import { decodeImageFile } from '../src/vision/decode.js';
import { TextTokenizer } from '../src/text/tokenizer.js';
import { conversationTemplate } from '../src/text/conversation.js';
import { placeImage } from '../src/text/image-placement.js';
import { preprocess } from '../src/text/preprocess.js';
import { goldenRoot } from '../test/helpers/golden.js';
import { report, type Row } from './report.js';

const SAMPLES = Number(process.argv[2] ?? 96);
const THREADS = Number(process.argv[3] ?? availableParallelism());
const ANCHOR = 2 / 6.6; // samples/s of one PyTorch stage-2 training step (batch 2 x 640 tokens, 6.6 s)
const BATCH = 8;
const dir = mkdtempSync(join(tmpdir(), 'llava-bench-data-'));

/** COCO-sized JPEGs (640x480 or 480x640) of smooth noise, so the decoder does real work. */
async function writeImages(count: number): Promise<string[]> {
  mkdirSync(join(dir, 'images'));
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const [w, h] = i % 3 === 2 ? [480, 640] : [640, 480];
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        px[o] = (x * 255) / w;
        px[o + 1] = (y * 255) / h;
        px[o + 2] = 128 + 100 * Math.sin((x + i * 7) / 9) * Math.cos(y / 13);
      }
    names.push(`${String(i).padStart(12, '0')}.jpg`);
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(join(dir, 'images', names[i]!));
  }
  return names;
}

/** LLaVA-Instruct-like samples: three rounds, answers of a few dozen words (~400 tokens with the template). */
function writeData(names: string[]): string {
  const answer = (k: number) =>
    `The image shows ${k} people standing near a red bus on a city street, with buildings, trees and a cloudy sky in the background. One of them is holding an umbrella while the others wait at the stop, and a bicycle leans against a lamp post on the right side of the picture.`;
  const data = names.map((image, i) => ({
    id: image.slice(0, 12),
    image,
    conversations: [
      {
        from: 'human',
        value: i % 2 ? '<image>\nWhat is happening in this image?' : 'What is happening in this image?\n<image>',
      },
      { from: 'gpt', value: answer(i) },
      { from: 'human', value: 'How many people are there, and what are they doing?' },
      { from: 'gpt', value: answer(i + 1) },
      { from: 'human', value: 'What might the weather be like?' },
      { from: 'gpt', value: answer(i + 2) },
    ],
  }));
  const path = join(dir, 'data.json');
  writeFileSync(path, JSON.stringify(data));
  return path;
}

/** Indexing speed of a large instruction JSON (streamed, never parsed whole), in MB/s. */
async function indexRate(records: number): Promise<number> {
  const one = JSON.parse(readFileSync(join(dir, 'data.json'), 'utf8'))[0];
  const path = join(dir, 'big.json');
  writeFileSync(
    path,
    '[' + Array.from({ length: records }, (_, i) => JSON.stringify({ ...one, id: String(i) })).join(',\n') + ']',
  );
  const t0 = performance.now();
  await indexInstructionFile(path);
  const seconds = (performance.now() - t0) / 1000;
  return readFileSync(path).length / 2 ** 20 / seconds;
}

async function samplesPerSecond(source: ItemSource): Promise<number> {
  const loader = new DataLoader(source, { batchSize: BATCH, seed: 0, groupByModalityLength: true, prefetch: 4 });
  for await (const _ of loader.epoch(99, loader.stepsPerEpoch - 1)) {
    /* warm-up: JIT, worker start, tokenizer caches */
  }
  const t0 = performance.now();
  let n = 0;
  for await (const b of loader.epoch(0)) n += b.indices.length;
  return n / ((performance.now() - t0) / 1000);
}

/** Per-stage cost of one sample in one thread, in ms. */
async function stages(
  options: SupervisedDataOptions,
  data: { image: string; conversations: { from: string; value: string }[] }[],
): Promise<Record<string, number>> {
  const tokenizer = TextTokenizer.fromDir(options.tokenizerDir);
  const processor = ClipImageProcessor.fromFile(options.preprocessorConfig!);
  const template = conversationTemplate(options.version);
  const t = { decode: 0, preprocess: 0, tokenize_mask: 0, collate: 0 };
  const items = [];
  for (const s of data) {
    let t0 = performance.now();
    const img = await decodeImageFile(join(options.imageFolder!, s.image));
    t.decode += performance.now() - t0;
    t0 = performance.now();
    const pixelValues = processor.preprocess(img, 'pad');
    t.preprocess += performance.now() - t0;
    t0 = performance.now();
    const out = preprocess(tokenizer, template, placeImage(s.conversations, { placement: 'first' }), {
      hasImage: true,
    });
    t.tokenize_mask += performance.now() - t0;
    items.push({ inputIds: out.inputIds, labels: out.labels, pixelValues });
  }
  const t0 = performance.now();
  for (let i = 0; i < items.length; i += BATCH) collate(items.slice(i, i + BATCH), { padTokenId: 0, maxLength: 2048 });
  t.collate = performance.now() - t0;
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v / data.length]));
}

async function main(): Promise<void> {
  const names = await writeImages(SAMPLES);
  const dataPath = writeData(names);
  const preprocessorConfig = join(dir, 'preprocessor_config.json');
  writeFileSync(
    preprocessorConfig,
    JSON.stringify({
      crop_size: 336,
      size: { shortest_edge: 336 },
      resample: 3,
      image_mean: [0.48145466, 0.4578275, 0.40821073],
      image_std: [0.26862954, 0.26130258, 0.27577711],
    }),
  );
  const options: SupervisedDataOptions = {
    dataPath,
    imageFolder: join(dir, 'images'),
    tokenizerDir: join(goldenRoot, 'llava_preprocess', 'tokenizer'), // LLaMA's tokenizer.model, legacy false
    version: 'v1',
    preprocessorConfig,
    imageAspectRatio: 'pad',
  };
  const dataset = await SupervisedDataset.open(options);
  const rows: Row[] = [];
  const note = 'target >= 5x; anchor = PyTorch stage-2 step 2x640 tok / 6.6 s';

  sharp.concurrency(1); // libvips on one thread: the single-thread figure is one thread end to end
  const per = await stages(options, JSON.parse(readFileSync(dataPath, 'utf8')).slice(0, 16));
  for (const [stage, ms] of Object.entries(per)) {
    rows.push({ bench: 'data', metric: `${stage} per sample (1 thread)`, unit: 'ms', ours: ms, higherIsBetter: false });
  }
  const single = await samplesPerSecond(dataset);
  rows.push({
    bench: 'data',
    metric: 'whole path, 1 thread',
    unit: 'samples/s',
    ours: single,
    anchor: ANCHOR,
    anchorName: 'training step',
    higherIsBetter: true,
    note,
  });

  sharp.concurrency(0); // default: one libvips thread per core
  for (const threads of [...new Set([2, THREADS])]) {
    const pool = new WorkerPool(dataset, threads);
    const rate = await samplesPerSecond(pool);
    await pool.close();
    rows.push({
      bench: 'data',
      metric: `whole path, ${threads} worker threads`,
      unit: 'samples/s',
      ours: rate,
      anchor: ANCHOR,
      anchorName: 'training step',
      higherIsBetter: true,
      note,
    });
  }
  dataset.close();
  rows.push({
    bench: 'data',
    metric: 'index instruction JSON (1 thread)',
    unit: 'MB/s',
    ours: await indexRate(30_000),
    higherIsBetter: true,
    note: 'the 1 GB LLaVA-1.5 mix at this rate: 1024 / rate seconds',
  });
  console.log(
    `# ${SAMPLES} samples of 640x480 JPEG + 3-round v1 conversation, CLIP 336 pad, batch ${BATCH}, ${availableParallelism()} cores`,
  );
  console.log('# the anchor is a placeholder until the models issue has a real training step to measure beside this');
  report(rows);
  rmSync(dir, { recursive: true, force: true });
}

await main();
