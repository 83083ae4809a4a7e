// summarize_gpt_review.py's stdout byte for byte on the 13 fixture runs (expected.json →
// summary), through the real `llava eval summarize` command run with the fixture folder as its
// working directory and the reference's own arguments; then the strict mode and bad input.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { summarize } from '../../src/eval/index.js';
import { EVAL_GOLDEN, expected, golden, MAIN } from './paths.js';

function evalSummarize(args: string[]) {
  return spawnSync(process.execPath, [MAIN, 'eval', 'summarize', ...args], { cwd: EVAL_GOLDEN, encoding: 'utf8' });
}

test('summarize: stdout of the reference on every fixture review set', () => {
  assert.equal(expected.summary.length, 13);
  for (const c of expected.summary) {
    const args = (c.command as string).split(' ');
    assert.equal(args[1], 'llava/eval/summarize_gpt_review.py');
    const out = evalSummarize(args.slice(2));
    assert.equal(out.stderr, '', c.name);
    assert.equal(out.status, 0, c.name);
    assert.equal(out.stdout, c.stdout, c.name);
  }
});

test('summarize (library): rows carry the numbers the fixture parsed from stdout', () => {
  for (const c of expected.summary.filter((s: { name: string }) => ['rounding', 'failures', 'wild'].includes(s.name))) {
    const file = (c.command as string).split(' -f ')[1]!;
    const [summary] = summarize({ files: [golden(file)] });
    const rows = summary!.rows.map((r) => ({
      key: r.key,
      relative: r.relative,
      ref_mean_x10: r.reference,
      cand_mean_x10: r.candidate,
    }));
    assert.deepEqual(
      rows,
      c.files[0].rows.map(({ printed: _, ...r }: { printed: string }) => r),
      c.name,
    );
  }
});

test('summarize --strict leaves out and lists the reviews whose reply has no score pair', () => {
  // review_failures: the reference averages [-1, -1] in; strict mode drops those reviews.
  const file = golden('summary/files/review_failures.jsonl');
  const [reference] = summarize({ files: [file] });
  const [strict] = summarize({ files: [file], strict: true });
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const failed = lines.filter((r) => r.tuple[0] === -1 && r.tuple[1] === -1);
  assert.ok(failed.length > 0);
  assert.equal(strict!.failures.length, failed.length);
  assert.deepEqual(
    strict!.failures.map((f) => f.questionId),
    failed.map((r) => r.question_id),
  );
  // Hand-computed means over the parsed reviews only.
  const kept = lines.filter((r) => !failed.includes(r));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const all = strict!.rows.find((r) => r.key === 'all')!;
  assert.equal(all.count, kept.length);
  assert.equal(all.reference, Math.round(mean(kept.map((r) => r.tuple[0])) * 1000) / 100);
  assert.notDeepEqual(strict!.rows, reference!.rows);
  // A category of only failures has no row in strict mode (the reference prints -10.0 -10.0).
  assert.ok(reference!.rows.some((r) => r.key === 'detail' && r.reference === -10));
  assert.ok(!strict!.rows.some((r) => r.key === 'detail'));
  const out = evalSummarize(['-f', 'summary/files/review_failures.jsonl', '--strict']);
  assert.equal(out.status, 0);
  assert.match(out.stdout, new RegExp(`left out: ${failed.length} reviews\n`));
});

test('summarize: bad input is named', () => {
  const none = evalSummarize([]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /give -f FILE\.\.\. or -d DIR/);
  const notJson = evalSummarize(['-f', 'summary/judged/notes.txt']);
  assert.equal(notJson.status, 1);
  assert.match(notJson.stderr, /summary\/judged\/notes\.txt:1: not a JSON line/);
  const badId = evalSummarize(['-f', 'summary/files/review_ignore.jsonl', '-i', 'one']);
  assert.equal(badId.status, 2);
  assert.match(badId.stderr, /-i: 'one' is not an integer/);
});
