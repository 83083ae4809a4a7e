// ScienceQA, POPE and VQA against the reference scripts' own outputs on crafted inputs
// (expected.json → sqa, pope, vqa): printed lines byte for byte, per-item values, output files.
// The commands run as the reference ran, from the fixture folder with its relative paths.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  evalPope,
  evalScienceQA,
  popeAnswer,
  sqaPredIndex,
  textVqaQuestion,
  vqaAccuracy,
  vqaAnswerScores,
  vqaNormalizeStages,
  vqaScore,
} from '../../src/eval/index.js';
import { EVAL_GOLDEN, expected, golden, MAIN } from './paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'llava-exact-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function llavaEval(args: string[]) {
  return spawnSync(process.execPath, [MAIN, 'eval', ...args], { cwd: EVAL_GOLDEN, encoding: 'utf8' });
}
/** The reference's command line, minus the interpreter and the script. */
const argsOf = (command: string) => command.split(' ').slice(command.startsWith('python -m') ? 3 : 2);

test('ScienceQA: the printed line and both output files of eval_science_qa.py', () => {
  const sqa = expected.sqa;
  const outFile = join(tmp, 'sqa_output.jsonl');
  const resultFile = join(tmp, 'sqa_result.json');
  const args = argsOf(sqa.command).map((a: string) =>
    a.endsWith('_output.jsonl') ? outFile : a.endsWith('_result.json') ? resultFile : a,
  );
  const out = llavaEval(['sqa', ...args]);
  assert.equal(out.stderr, '');
  assert.equal(out.stdout, sqa.stdout);
  assert.equal(readFileSync(outFile, 'utf8'), readFileSync(golden(sqa.output_file), 'utf8'));
  assert.equal(readFileSync(resultFile, 'utf8'), readFileSync(golden(sqa.output_result), 'utf8'));
});

test('ScienceQA: every problem parsed as the reference parsed it; get_pred_idx', () => {
  const sqa = expected.sqa;
  const r = evalScienceQA(golden('sqa'), golden('sqa/answers/llava-v1.5-13b.jsonl'));
  assert.equal(r.accuracy, sqa.acc);
  assert.equal(r.correct, sqa.correct);
  assert.equal(r.total, sqa.count);
  assert.deepEqual(
    r.problems.map((p) => [
      p.question_id,
      p.pred,
      p.parsed_ans,
      p.pred_idx,
      p.ground_truth,
      p.is_multimodal,
      p.correct,
    ]),
    sqa.per_problem.map((p: Record<string, unknown>) => [
      p.question_id,
      p.pred,
      p.parsed_ans,
      p.pred_idx,
      p.ground_truth,
      p.is_multimodal,
      p.correct,
    ]),
  );
  for (const g of sqa.get_pred_idx) assert.equal(sqaPredIndex(g.prediction, g.n_choices), g.index, JSON.stringify(g));
});

test('POPE: each category block of eval_pope.py byte for byte, and its numbers', () => {
  const pope = expected.pope;
  const out = llavaEval(['pope', ...argsOf(pope.command)]);
  assert.equal(out.stderr, '');
  const blocks = Object.keys(pope.stdout_blocks)
    .sort()
    .map((c) => pope.stdout_blocks[c]);
  assert.equal(out.stdout, blocks.join(''));
  const metrics = evalPope({
    annotationDir: golden('pope/coco'),
    questionFile: golden('pope/llava_pope_test.jsonl'),
    resultFile: golden('pope/answers/llava-v1.5-13b.jsonl'),
  });
  for (const m of metrics) {
    const c = pope.categories[m.category];
    assert.deepEqual([m.TP, m.FP, m.TN, m.FN, m.samples], [c.TP, c.FP, c.TN, c.FN, c.n_samples]);
    assert.deepEqual(
      { accuracy: m.accuracy, precision: m.precision, recall: m.recall, f1: m.f1, yes_ratio: m.yesRatio },
      c.values,
    );
    for (const a of c.per_answer) assert.equal(popeAnswer(a.text), a.pred, JSON.stringify(a.text));
  }
});

test('POPE: the position-matching quirk as the reference, and --by-id pairs each answer with its own label', () => {
  const quirk = expected.pope.quirk;
  const out = llavaEval(['pope', ...argsOf(quirk.command)]);
  assert.equal(out.stdout, quirk.stdout);
  // Worked out by hand from pope/quirk: the answers of category random are, in file order,
  // 101 No (car: label no), 100 Yes (dining table: yes), 103 No (person: no), 102 Yes (bench:
  // yes), 104 Yes (cup: yes); 200 and 201 are adversarial, which has no label file. Each with its
  // own question's label: TP 3 (100, 102, 104), FP 0, TN 2 (101, 103), FN 0; by position the
  // reference gets TP 1, FP 2, TN 0, FN 2.
  const expectedById = [3, 0, 2, 0];
  const [byId] = evalPope({
    annotationDir: golden('pope/quirk/coco'),
    questionFile: golden('pope/quirk/llava_pope_test.jsonl'),
    resultFile: golden('pope/quirk/answers/llava-v1.5-13b.jsonl'),
    byId: true,
  });
  const random = quirk.categories.random;
  assert.deepEqual([byId!.TP, byId!.FP, byId!.TN, byId!.FN], expectedById);
  assert.equal(byId!.samples, random.n_samples);
  assert.deepEqual([random.TP, random.FP, random.TN, random.FN], [1, 2, 0, 2]);
  assert.equal(byId!.unlabelled, 0);
  assert.equal(byId!.accuracy, 1);
  const cli = llavaEval(['pope', ...argsOf(quirk.command), '--by-id']);
  assert.match(cli.stdout, /Accuracy: 1\.0\n/);
});

test('POPE yes/no rule on the README cases', () => {
  for (const text of ['NO', 'No!', 'Nope', 'None', 'Not at all', 'No\nThere is none.', '', 'Yes. There is no cat.'])
    assert.equal(popeAnswer(text), 'yes', JSON.stringify(text));
  for (const text of ['No', 'No.', 'no, there is not', 'There is not a cat', 'No, there is no cat.'])
    assert.equal(popeAnswer(text), 'no', JSON.stringify(text));
});

test('VQA: EvalAIAnswerProcessor stage by stage on every fixture input', () => {
  assert.equal(expected.vqa.processor.length, 68);
  for (const p of expected.vqa.processor) {
    const { raw, ...stages } = p;
    assert.deepEqual(vqaNormalizeStages(raw), stages, JSON.stringify(raw));
  }
});

test('VQA soft accuracy: per-answer scores, per-entry scores (sum order included) and the overall mean', () => {
  const { items, overall } = expected.vqa.accuracy;
  const inputs = JSON.parse(readFileSync(golden('vqa/accuracy_inputs.json'), 'utf8'));
  items.forEach(
    (item: { unique_answer_scores: Record<string, number>; score: number; pred_normalized: string }, i: number) => {
      const scores = vqaAnswerScores(inputs[i].gt_answers);
      assert.deepEqual(Object.fromEntries(scores), item.unique_answer_scores, `item ${i}`);
      assert.equal(vqaScore(inputs[i].pred_answer, inputs[i].gt_answers), item.score, `item ${i}`);
    },
  );
  // The three spellings of 2/3 of a match that the README names are all there.
  const values = items.flatMap((i: { unique_answer_scores: Record<string, number> }) =>
    Object.values(i.unique_answer_scores),
  );
  for (const v of [0.6, 0.6000000000000001, 0.5999999999999999]) assert.ok(values.includes(v), String(v));
  assert.equal(
    vqaAccuracy(
      inputs.map((e: { pred_answer: string; gt_answers: string[] }) => ({
        predAnswer: e.pred_answer,
        gtAnswers: e.gt_answers,
      })),
    ),
    overall,
  );
});

test('TextVQA: prompt forms and eval_textvqa.py stdout for --result-file and --result-dir', () => {
  for (const p of expected.vqa.textvqa.prompt_processor) assert.equal(textVqaQuestion(p.prompt), p.question);
  for (const run of expected.vqa.textvqa.runs) {
    const out = llavaEval(['vqa', ...argsOf(run.command)]);
    assert.equal(out.stderr, '');
    assert.equal(out.stdout, run.stdout);
  }
});
