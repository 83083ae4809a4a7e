// MME from a results folder built here, against values worked out by hand.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { evalMme, mmeAnswer } from '../../src/eval/index.js';
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
