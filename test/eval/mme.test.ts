// MME from a results folder built here, against values worked out by hand.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { evalMme, mmeAnswer, mmeResultsFromAnswers, mmeScores } from '../../src/eval/index.js';
import { MAIN } from './paths.js';

const dir = mkdtempSync(join(tmpdir(), 'llava-mme-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const lines = (rows: string[][]) => rows.map((r) => `${r.join('\t')}\n`).join('');

// existence: image 1 both right; image 2: "Nope" reads as no (its first 4 characters hold "no"): wrong.
//   questions 4, right 3: acc 75, acc+ 1/2 = 50, score 125.
writeFileSync(
  join(dir, 'existence.txt'),
  lines([
    ['1.jpg', 'Is there a dog?', 'Yes', 'yes'],
    ['1.jpg', 'Is there a cat?', 'No', "No, it's not"],
    ['2.jpg', 'Is there a bus?', 'Yes', 'Nope'],
    ['2.jpg', 'Is there a car?', 'No', 'no'],
  ]),
);
// count: "Yes, there are two." is yes (right); "I think so" is other (wrong): acc 50, acc+ 0, score 50.
writeFileSync(
  join(dir, 'count.txt'),
  lines([
    ['3.jpg', 'Are there two?', 'Yes', 'Yes, there are two.'],
    ['3.jpg', 'Are there three?', 'No', 'I think so'],
  ]),
);
// code_reasoning: "There is no" is other (its first 4 are "ther"): image A wrong; "YES" and "no"
//   right: acc 75, acc+ 50, score 125. Last line without a newline.
writeFileSync(
  join(dir, 'code_reasoning.txt'),
  lines([
    ['a.png', 'Does it print 1?', 'No', 'There is no'],
    ['a.png', 'Does it print 2?', 'Yes', 'yes'],
    ['b.png', 'Does it halt?', 'Yes', 'YES'],
  ]) + 'b.png\tDoes it loop?\tNo\tno',
);

test('MME: accuracy, accuracy+ and score per task, totals per group', () => {
  const groups = evalMme(dir);
  const perception = groups.find((g) => g.group === 'Perception')!;
  const cognition = groups.find((g) => g.group === 'Cognition')!;
  const view = (t: { task: string; accuracy: number; accuracyPlus: number; score: number; other: number }) => [
    t.task,
    t.accuracy,
    t.accuracyPlus,
    t.score,
    t.other,
  ];
  assert.deepEqual(perception.tasks.map(view), [
    ['existence', 0.75, 0.5, 125, 0],
    ['count', 0.5, 0, 50, 1],
  ]);
  assert.equal(perception.total, 175);
  assert.equal(perception.missing.length, 8);
  assert.deepEqual(cognition.tasks.map(view), [['code_reasoning', 0.75, 0.5, 125, 1]]);
  assert.equal(cognition.total, 125);
});

test('MME: the yes/no rule; bad files are named', () => {
  assert.deepEqual(['yes', 'No', 'Yes.', 'know', 'yesno', 'Maybe', ' no'].map(mmeAnswer), [
    'yes',
    'no',
    'yes',
    'no',
    'yes',
    'other',
    'no',
  ]);
  const bad = mkdtempSync(join(tmpdir(), 'llava-mme-bad-'));
  try {
    writeFileSync(join(bad, 'color.txt'), lines([['1.jpg', 'Is it red?', 'Yes', 'yes']]));
    assert.throws(() => evalMme(bad), /color\.txt: 1 lines; MME has two questions per image/);
    writeFileSync(
      join(bad, 'color.txt'),
      lines([
        ['1.jpg', 'Is it red?', 'Maybe', 'yes'],
        ['1.jpg', 'Blue?', 'No', 'no'],
      ]),
    );
    assert.throws(() => evalMme(bad), /color\.txt:1: the ground truth must be yes or no/);
    const out = spawnSync(process.execPath, [MAIN, 'eval', 'mme', '--results-dir', dir], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /=========== Perception ===========\ntotal score: 175\.0\n/);
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
});

test('MME from a model_vqa answer file and the benchmark folder (convert_answer_to_mme.py), both layouts', () => {
  const bench = join(dir, 'MME_Benchmark_release_version');
  // existence: images/ and questions_answers_YN/; OCR: flat, with the two-space "  Please" form.
  mkdirSync(join(bench, 'existence', 'images'), { recursive: true });
  mkdirSync(join(bench, 'existence', 'questions_answers_YN'));
  writeFileSync(
    join(bench, 'existence', 'questions_answers_YN', '000000006040.txt'),
    'Is there a train in this image? Please answer yes or no.\tYes\nIs there a bed in this image? Please answer yes or no.\tNo\n',
  );
  mkdirSync(join(bench, 'OCR'));
  writeFileSync(
    join(bench, 'OCR', '0001.txt'),
    'Is the word "high"?  Please answer yes or no.\tYes\nIs the word "low"?  Please answer yes or no.\tNo\n',
  );
  const suffix = '\nAnswer the question using a single word or phrase.';
  const answers = join(dir, 'mme-answers.jsonl');
  writeFileSync(
    answers,
    [
      {
        question_id: 'existence/000000006040.jpg',
        prompt: `Is there a train in this image? Please answer yes or no.${suffix}`,
        text: 'Yes',
      },
      {
        question_id: 'existence/000000006040.jpg',
        prompt: `Is there a bed in this image? Please answer yes or no.${suffix}`,
        text: 'No',
      },
      { question_id: 'OCR/0001.jpg', prompt: `Is the word "high"?${suffix}`, text: 'yes' },
      { question_id: 'OCR/0001.jpg', prompt: `Is the word "low"?${suffix}`, text: 'yes' },
    ]
      .map((a) => JSON.stringify(a) + '\n')
      .join(''),
  );
  const results = mmeResultsFromAnswers(answers, bench);
  assert.equal(
    results.get('existence'),
    '000000006040.txt\tIs there a train in this image? Please answer yes or no.\tYes\tYes\n' +
      '000000006040.txt\tIs there a bed in this image? Please answer yes or no.\tNo\tNo\n',
  );
  assert.equal(
    results.get('OCR'),
    '0001.txt\tIs the word "high"?  Please answer yes or no.\tYes\tyes\n0001.txt\tIs the word "low"?  Please answer yes or no.\tNo\tyes\n',
  );
  // existence: both right: 100 + 100; OCR: one of two, no image with both: 50 + 0.
  const [perception] = mmeScores(new Map([...results].map(([t, text]) => [t, { text, source: t }])));
  assert.deepEqual(
    perception!.tasks.map((t) => [t.task, t.score]),
    [
      ['existence', 200],
      ['OCR', 50],
    ],
  );
  assert.equal(perception!.total, 250);
  const out = join(dir, 'written');
  const cli = spawnSync(
    process.execPath,
    [MAIN, 'eval', 'mme', '--answers', answers, '--benchmark-dir', bench, '--write-results', out],
    { encoding: 'utf8' },
  );
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /total score: 250\.0\n/);
  assert.equal(readFileSync(join(out, 'OCR.txt'), 'utf8'), results.get('OCR'));
  writeFileSync(answers, JSON.stringify({ question_id: 'OCR/0001.jpg', prompt: 'Unknown?', text: 'no' }) + '\n');
  assert.throws(
    () => mmeResultsFromAnswers(answers, bench),
    /mme-answers\.jsonl:1: no ground truth .* for OCR\/0001\.txt/,
  );
});
