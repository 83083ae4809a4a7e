// The README's `answers → judge → summarize` command, run as written (its token budget cut for
// the tiny model) on a small LLaVA built here (random weights, saved with savePretrained, with a
// tokenizer), the reference's qa90 files, images written here under the qa90 names, and a scripted
// judge that scores by category. The printed summary is worked out by hand below.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { LlavaForConditionalGeneration, llavaConfig } from '../../src/models/index.js';
import { manualSeed } from '../../src/torch/index.js';
import { rawImage, solid } from '../helpers/text-images.js';
import { startJudgeServer } from './judge-server.js';
import { MAIN, QA90, REFERENCE_DATA } from './paths.js';
import { writeTinyTokenizer } from './tiny-tokenizer.js';

const work = mkdtempSync(join(tmpdir(), 'llava-one-command-'));
after(() => rmSync(work, { recursive: true, force: true }));

function readmeCommand(): string {
  const readme = readFileSync(resolve('README.md'), 'utf8');
  const start = readme.indexOf('<!-- llava-eval-one-command -->');
  assert.ok(start >= 0, 'the README marks its one command');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))![1]!;
  assert.match(block, /--max-new-tokens 1024/);
  return block.replace('--max-new-tokens 1024', '--max-new-tokens 3');
}

test("the README's answers → judge → summarize command on a small model", async () => {
  // The model: 2 layers each side, random weights, vocabulary of the tiny tokenizer.
  manualSeed(0);
  const model = new LlavaForConditionalGeneration(
    llavaConfig({
      model_type: 'llava',
      image_token_index: 500,
      vision_config: {
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        image_size: 16,
        patch_size: 8,
      },
      text_config: {
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        vocab_size: 512,
        max_position_embeddings: 512,
      },
    }),
  );
  const modelDir = join(work, 'tiny-llava');
  model.savePretrained(modelDir);
  writeTinyTokenizer(modelDir);
  // The 30 qa90 images, one colour each, as JPEG under their qa90 names.
  const questions = readFileSync(join(QA90, 'qa90_questions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const images = join(work, 'images');
  mkdirSync(images);
  for (const [i, name] of [...new Set(questions.map((q) => q.image as string))].entries())
    await rawImage(solid(24, 18, [i * 8, 255 - i * 8, 90]), 24, 18, 3)
      .jpeg()
      .toFile(join(images, name));

  // The judge: conv "8 6", detail "9 9", complex "6 7", told apart by the question in the prompt.
  const category = new Map(questions.map((q) => [q.text as string, q.category as string]));
  const scores: Record<string, string> = { conv: '8 6', detail: '9 9', complex: '6 7' };
  const server = await startJudgeServer((prompt) => {
    const question = /\[Question\]\n([\s\S]*?)\n\n\[Assistant 1\]/.exec(prompt)![1]!;
    return { kind: 'reply', content: `${scores[category.get(question)!]}\nScored by category.` };
  });
  try {
    const child = spawn('bash', ['-c', `llava() { "${process.execPath}" "${MAIN}" "$@"; }\n${readmeCommand()}`], {
      cwd: work,
      env: {
        ...process.env,
        MODEL: modelDir,
        IMAGES: images,
        LLAVA_DATA: REFERENCE_DATA,
        JUDGE_MODEL: 'judge-test',
        JUDGE_URL: server.baseURL,
        OPENAI_API_KEY: 'x',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((done) => child.on('close', done));
    assert.equal(code, 0, stderr);
    // By hand: all: m1 = (8 + 9 + 6) / 3 = 7.667, m2 = (6 + 9 + 7) / 3 = 7.333, 7.333 / 7.667 = 95.6%;
    // complex 7/6 = 116.7%, conv 6/8 = 75.0%, detail 100.0%.
    assert.ok(
      stdout.endsWith(
        'review_model\nall 95.6 76.7 73.3\ncomplex 116.7 60.0 70.0\nconv 75.0 80.0 60.0\ndetail 100.0 90.0 90.0\n=================================\n',
      ),
      stdout,
    );
    assert.equal(readFileSync(join(work, 'bench/answers/model.jsonl'), 'utf8').trim().split('\n').length, 90);
    assert.equal(server.paid.length, 90);
  } finally {
    await server.close();
  }
});
