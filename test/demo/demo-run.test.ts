// The shortened demo end to end, so the main job cannot rot: `llava demo --quick` through the CLI, then what it
// leaves is used as a user would: the run folder's files, the llava-hf final checkpoint answering through
// `llava run`, a second run that starts at stage 1 (stage 0 cached), and the report in Chromium (screenshot kept
// in test-artifacts/, deliberately not removed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { startServe } from '../helpers/serve-process.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'llava-demo-'));
const out = join(root, 'run');
after(() => rmSync(root, { recursive: true, force: true }));

const llava = (...args: string[]) =>
  spawnSync(process.execPath, [main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '2' },
  });

test('llava demo --quick: world, stage 0, data engine, stages 1 and 2, evaluation, report', () => {
  const run = llava('demo', '--quick', '--no-doctor', '--out', out);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  for (const stage of ['world', 'stage 0', 'data engine', 'stage 1', 'stage 2', 'evaluation'])
    assert.match(run.stdout, new RegExp(`== ${stage}`));
  for (const file of [
    'world/train.jsonl',
    'world/heldout.jsonl',
    'stage0/llm/config.json',
    'stage0/clip/config.json',
    'datagen/conversation.jsonl',
    'recipes/pretrain.yaml',
    'recipes/finetune.yaml',
    'stage1/mm_projector.bin',
    'stage2/config.json',
    'final/config.json',
    'final/chat_template.json',
    'final/preprocessor_config.json',
    'report.html',
    'summary.md',
  ])
    assert.ok(existsSync(join(out, file)), `${file} is missing`);

  // The table: the three models and chance, with every kind and the bench's relative scores.
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { table: string[][] };
  const [header, ...rows] = summary.table;
  assert.deepEqual(header!.slice(0, 5), ['model', 'colour', 'count', 'position', 'existence']);
  assert.ok(header!.includes('LLaVA-Bench all'));
  assert.deepEqual(
    rows.map((r) => r[0]),
    ['no image', 'stage 1', 'stage 2', 'chance'],
  );
  for (const row of rows.slice(0, 3)) for (const cell of row.slice(1, 5)) assert.match(cell!, /^\d+\.\d%$/);

  // The final checkpoint is llava-hf: the image token is the tokenizer's <image>, inside the vocabulary.
  const config = JSON.parse(readFileSync(join(out, 'final', 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.model_type, 'llava');
  assert.deepEqual(config.architectures, ['LlavaForConditionalGeneration']);
  const imageId = TextTokenizer.fromDir(join(out, 'final')).tokenToId('<image>');
  assert.equal(config.image_token_index, imageId);
  assert.ok((imageId as number) < (config.text_config as { vocab_size: number }).vocab_size);
});

test('the final checkpoint answers through `llava run` about a held-out image', () => {
  const heldOut = readFileSync(join(out, 'world', 'heldout.jsonl'), 'utf8').split('\n')[0]!;
  const image = join(out, 'world', 'images', (JSON.parse(heldOut) as { image: string }).image);
  const run = llava(
    'run',
    '--model',
    join(out, 'final'),
    '--image',
    image,
    '--prompt',
    'How many shapes are in the image?',
    '--json',
    '--max-new-tokens',
    '4',
  );
  assert.equal(run.status, 0, run.stderr);
  const reply = JSON.parse(run.stdout) as { text: string };
  assert.equal(typeof reply.text, 'string');
});

test('`llava serve --model <run>/final` answers an OpenAI chat completion about a world image', async () => {
  const heldOut = readFileSync(join(out, 'world', 'heldout.jsonl'), 'utf8').split('\n')[1]!;
  const image = readFileSync(join(out, 'world', 'images', (JSON.parse(heldOut) as { image: string }).image));
  const serve = await startServe(['--model', join(out, 'final'), '--port', '0']);
  try {
    const response = await fetch(`${serve.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'final',
        max_tokens: 4,
        temperature: 0,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image_url', image_url: { url: `data:image/png;base64,${image.toString('base64')}` } },
              { type: 'text', text: 'What colour is the circle?' },
            ],
          },
        ],
      }),
    });
    const body = (await response.json()) as {
      choices: { message: { content: string } }[];
      usage: { completion_tokens: number };
    };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(typeof body.choices[0]!.message.content, 'string');
    assert.ok(body.usage.completion_tokens >= 1 && body.usage.completion_tokens <= 4);
  } finally {
    assert.equal(await serve.stop(), 0, serve.stderr());
  }
});

test('a second run, in the run folder moved elsewhere, keeps the world and stage 0 and starts at stage 1', () => {
  const moved = join(root, 'moved');
  renameSync(out, moved);
  try {
    const run = llava('demo', '--quick', '--no-doctor', '--out', moved);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /kept from an earlier run/);
    assert.match(run.stdout, /held-out images in .* \(kept\)/);
    // The kept stage 0 is read from where the folder is now, not from where it was written.
    const recipe = readFileSync(join(moved, 'recipes', 'pretrain.yaml'), 'utf8');
    assert.match(recipe, new RegExp(`vision_tower: ${join(moved, 'stage0', 'clip')}\n`));
  } finally {
    renameSync(moved, out);
  }
});

test('the report renders in Chromium: the table, a chart per curve, the sample images', async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(join(out, 'report.html')).href);
    assert.deepEqual(errors, []);
    const rows = await page.$$eval('#results tr', (trs) => trs.map((tr) => tr.children[0]!.textContent));
    assert.deepEqual(rows, ['model', 'no image', 'stage 1', 'stage 2', 'chance']);
    // Chart.js drew one chart per curve: stage 0's two and both stages'.
    const charts = await page.evaluate(
      () => Object.keys((window as unknown as { Chart: { instances: object } }).Chart.instances).length,
    );
    assert.equal(charts, 4);
    const images = await page.$$eval('.sample img', (imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
    assert.ok(images.length > 0 && images.every((w) => w === 64), `sample images: ${images}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'demo-report.png'), fullPage: true });
  } finally {
    await browser.close();
  }
});
