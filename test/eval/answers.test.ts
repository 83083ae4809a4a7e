// `llava eval answers` with the golden llava_tiny (transformers' weights, 512 tokens) and a small
// tokenizer built here, on images written here. Truth: the prompt string of spec §3.1, a
// cache-free greedy loop over model.forward written out in the test (no generate, no batching),
// the reference's answer-file keys in order; batching and resuming must not change a byte.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { answerPrompt } from '../../src/eval/answers.js';
import { pythonStrip } from '../../src/eval/index.js';
import { LlavaForConditionalGeneration } from '../../src/models/index.js';
import { tokenizerImageToken } from '../../src/text/image-token.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import * as T from '../../src/torch/index.js';
import { ClipImageProcessor } from '../../src/vision/clip-processor.js';
import { decodeImageFile } from '../../src/vision/decode.js';
import { golden } from '../helpers/golden.js';
import { coordinates, rawImage, solid } from '../helpers/text-images.js';
import { MAIN } from './paths.js';
import { writeTinyTokenizer } from './tiny-tokenizer.js';

const { dir: MODEL } = golden('llava_tiny');
const tokDir = writeTinyTokenizer();
const work = mkdtempSync(join(tmpdir(), 'llava-answers-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(tokDir, { recursive: true, force: true });
});
const MAX_NEW = 6;

const questions = [
  { question_id: 0, image: 'red.png', text: 'What colour is it?', category: 'conv' },
  { question_id: 1, image: 'grid.png', text: 'Describe the picture.', category: 'detail' },
  { question_id: 2, image: 'wide.png', text: 'Why is it wide?', category: 'complex' },
  { question_id: 'q3', image: 'red.png', text: 'Is it a "square"?', category: 'conv' },
  { question_id: 4, text: 'No image here.' },
];
const questionFile = join(work, 'questions.jsonl');

async function setup() {
  writeFileSync(questionFile, questions.map((q) => JSON.stringify(q) + '\n').join(''));
  await rawImage(solid(20, 20, [200, 30, 40]), 20, 20, 3)
    .png()
    .toFile(join(work, 'red.png'));
  await rawImage(coordinates(24, 16), 24, 16, 3).png().toFile(join(work, 'grid.png'));
  await rawImage(solid(40, 10, [10, 220, 90]), 40, 10, 3)
    .png()
    .toFile(join(work, 'wide.png'));
}

function answers(out: string, extra: string[] = []) {
  return spawnSync(
    process.execPath,
    [
      MAIN,
      'eval',
      'answers',
      '--model-path',
      MODEL,
      '--tokenizer',
      tokDir,
      '--question-file',
      questionFile,
      '--image-folder',
      work,
      '--answers-file',
      out,
      '--max-new-tokens',
      String(MAX_NEW),
      '--model-id',
      'llava-tiny',
      ...extra,
    ],
    { encoding: 'utf8' },
  );
}

/** Greedy by hand: the whole sequence through model.forward each step, argmax of the last logits. */
async function referenceAnswer(q: (typeof questions)[number]): Promise<string> {
  const model = LlavaForConditionalGeneration.fromPretrained(MODEL);
  const tokenizer = TextTokenizer.fromDir(tokDir);
  const ids = tokenizerImageToken(tokenizer, answerPrompt('vicuna_v1', q.text, q.image !== undefined), {
    imageTokenId: 500,
  });
  let pixelValues: T.Tensor | undefined;
  if (q.image) {
    const px = new ClipImageProcessor({ size: { shortest_edge: 32 }, crop_size: 32 }).preprocess(
      await decodeImageFile(join(work, q.image)),
      'pad',
    );
    pixelValues = T.tensor(px.data, [1, ...px.shape]);
  }
  const out: number[] = [];
  for (let step = 0; step < MAX_NEW; step++) {
    const seq = [...ids, ...out];
    const next = T.scope(() => {
      const logits = model.forward({
        inputIds: T.tensor(BigInt64Array.from(seq.map(BigInt)), [1, seq.length]),
        pixelValues,
      }).logits;
      return Number(logits.select(1, -1).argmax(-1).item());
    });
    if (next === 2) break;
    out.push(next);
  }
  // Python's strip(): its whitespace includes \x1c..\x1f, which random tokens do produce.
  return pythonStrip(tokenizer.decode(out, { skipSpecialTokens: true }));
}

test('answer prompt: the vicuna_v1 generation prompt of spec §3.1', () => {
  assert.equal(
    answerPrompt('vicuna_v1', 'What is this?', true),
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: <image>\nWhat is this? ASSISTANT:",
  );
  assert.equal(
    answerPrompt('llava_v0', 'Q', false),
    "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.###Human: Q###Assistant:",
  );
});

test('llava eval answers: reference format, greedy as a hand-written loop, batches and resumes change nothing', async () => {
  await setup();
  const one = join(work, 'one', 'answers.jsonl');
  const r1 = answers(one, ['--batch-size', '1', '--no-progress']);
  assert.equal(r1.status, 0, r1.stderr);
  const lines = readFileSync(one, 'utf8').split('\n').slice(0, -1);
  assert.equal(lines.length, questions.length);
  for (const [i, line] of lines.entries()) {
    const a = JSON.parse(line);
    assert.deepEqual(Object.keys(a), ['question_id', 'prompt', 'text', 'answer_id', 'model_id', 'metadata']);
    assert.equal(a.question_id, questions[i]!.question_id);
    assert.equal(a.prompt, questions[i]!.text);
    assert.equal(a.model_id, 'llava-tiny');
    assert.match(a.answer_id, /^[2-9A-HJ-NP-Za-km-z]{22}$/);
    assert.deepEqual(a.metadata, {});
    assert.equal(a.text, await referenceAnswer(questions[i]!), `question ${i}`);
  }
  assert.ok(
    lines.some((l) => JSON.parse(l).text !== ''),
    'every answer is empty: the check would be vacuous',
  );
  // Python json.dumps form: ", " and ": " separators, the quote escaped as Python escapes it.
  assert.ok(lines[3]!.startsWith('{"question_id": "q3", "prompt": "Is it a \\"square\\"?", "text": '));

  // Batched (left-padded, images and a text-only question together): the same bytes.
  const batched = join(work, 'batched.jsonl');
  const r2 = answers(batched, ['--batch-size', '3']);
  assert.equal(r2.status, 0, r2.stderr);
  assert.equal(readFileSync(batched, 'utf8'), readFileSync(one, 'utf8'));
  assert.match(r2.stderr, /5\/5/); // the progress line

  // Resume: two answers and a torn third line are kept/cut, the rest appended: the same bytes.
  const resumed = join(work, 'resumed.jsonl');
  writeFileSync(resumed, lines.slice(0, 2).join('\n') + '\n' + lines[2]!.slice(0, 25));
  const r3 = answers(resumed, ['--batch-size', '2', '--no-progress']);
  assert.equal(r3.status, 0, r3.stderr);
  assert.match(r3.stdout, /3 written, 2 already in/);
  assert.equal(readFileSync(resumed, 'utf8'), readFileSync(one, 'utf8'));

  // Chunks: the second of two chunks is questions 3..4.
  const chunk = join(work, 'chunk.jsonl');
  assert.equal(answers(chunk, ['--num-chunks', '2', '--chunk-idx', '1', '--device', 'cpu', '--no-progress']).status, 0);
  assert.equal(readFileSync(chunk, 'utf8'), lines.slice(3).join('\n') + '\n');
});

test('llava eval answers: a missing image names the question', () => {
  const bad = join(work, 'bad-questions.jsonl');
  writeFileSync(bad, JSON.stringify({ question_id: 7, image: 'nowhere.png', text: 'Hm?' }) + '\n');
  const r = spawnSync(
    process.execPath,
    [
      MAIN,
      'eval',
      'answers',
      '--model-path',
      MODEL,
      '--tokenizer',
      tokDir,
      '--question-file',
      bad,
      '--image-folder',
      work,
      '--answers-file',
      join(work, 'bad.jsonl'),
      '--no-progress',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad-questions\.jsonl:1 \(question_id 7\): image .*nowhere\.png/);
});

test('llava eval answers on a ScienceQA conversation file, then llava eval sqa reads it', async () => {
  // model_vqa_science's input: a JSON list; the question is the first turn without <image>.
  const file = join(work, 'sqa-questions.json');
  writeFileSync(
    file,
    JSON.stringify([
      {
        id: '1',
        image: 'red.png',
        conversations: [{ from: 'human', value: '<image>\nWhich colour?\nA. red\nB. blue' }],
      },
      { id: '2', conversations: [{ from: 'human', value: 'Which is a fruit?\nA. apple\nB. stone ' }] },
    ]),
  );
  const out = join(work, 'sqa', 'answers.jsonl');
  const r = spawnSync(
    process.execPath,
    [
      MAIN,
      'eval',
      'answers',
      '--model-path',
      MODEL,
      '--tokenizer',
      tokDir,
      '--question-file',
      file,
      '--image-folder',
      work,
      '--answers-file',
      out,
      '--single-pred-prompt',
      '--max-new-tokens',
      '2',
      '--no-progress',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const suffix = "\nAnswer with the option's letter from the given choices directly.";
  assert.deepEqual(
    lines.map((l) => [l.question_id, l.prompt]),
    [
      ['1', `<image>\nWhich colour?\nA. red\nB. blue${suffix}`],
      ['2', `Which is a fruit?\nA. apple\nB. stone${suffix}`],
    ],
  );
  // ScienceQA's files for these two problems; the random model's replies parse as FAILED.
  const base = join(work, 'sqa');
  writeFileSync(join(base, 'pid_splits.json'), JSON.stringify({ test: ['1', '2'] }));
  writeFileSync(
    join(base, 'problems.json'),
    JSON.stringify({ 1: { choices: ['red', 'blue'], answer: 0 }, 2: { choices: ['apple', 'stone'], answer: 0 } }),
  );
  const score = spawnSync(process.execPath, [MAIN, 'eval', 'sqa', '--base-dir', base, '--result-file', out], {
    encoding: 'utf8',
  });
  assert.equal(score.status, 0, score.stderr);
  const correct = lines.filter((l) => l.text === 'A' || l.text.startsWith('A. ')).length;
  const img = lines[0].text === 'A' || lines[0].text.startsWith('A. ') ? '100.00' : '0.00';
  assert.equal(
    score.stdout,
    `Total: 2, Correct: ${correct}, Accuracy: ${(correct * 50).toFixed(2)}%, IMG-Accuracy: ${img}%\n`,
  );
});
