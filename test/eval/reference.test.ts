// `llava eval reference` against a scripted server: each question with its image's context as the
// judge sees it (the fixture's judge prompts give the bytes), answers in question order in the
// qa90_gpt4_answer form plus model_id; resumed without asking again; then judged, the reviews
// name the reference they were scored against.

import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startJudgeServer } from './judge-server.js';
import { expected, golden, MAIN } from './paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'llava-reference-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function llava(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, 'eval', ...args, '--no-progress'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

test('reference answers: the judge context and question, in order, resumable, recorded by the judge', async () => {
  const questions = readFileSync(golden('bench/coco/questions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const judgePrompts: string[] = expected.judge_runs
    .find((r: { name: string }) => r.name === 'coco')
    .requests.map((r: { messages: { content: string }[] }) => r.messages[1]!.content);
  // What the judge sees for question i: its context and question, before the answers.
  const contextAndQuestion = judgePrompts.map((p) => p.slice(0, p.indexOf('\n\n[Assistant 1]')));
  const asked: string[] = [];
  const server = await startJudgeServer((prompt, _attempt, body) => {
    const messages = body.messages as { role: string; content: string }[];
    if (messages[0]!.content.startsWith('You are an AI visual assistant')) {
      asked.push(prompt);
      // Requests run three at a time and arrive in any order: the answer names its question.
      return { kind: 'reply', content: `Reference answer to question ${contextAndQuestion.indexOf(prompt)}.` };
    }
    return { kind: 'reply', content: '7 6\nA review.' };
  });
  try {
    const out = join(tmp, 'ref.jsonl');
    const common = ['--model', 'ref-model', '--base-url', server.baseURL, '--concurrency', '3', '--no-cache'];
    // Resume from a file holding the first two answers: only the other ten are asked.
    writeFileSync(
      out,
      questions
        .slice(0, 2)
        .map(
          (q) =>
            JSON.stringify({ question_id: q.question_id, text: 'kept', category: q.category, model_id: 'ref-model' }) +
            '\n',
        )
        .join(''),
    );
    const r = await llava([
      'reference',
      '-q',
      golden('bench/coco/questions.jsonl'),
      '-c',
      golden('bench/coco/context.jsonl'),
      '-o',
      out,
      ...common,
    ]);
    assert.equal(r.code, 0, r.stderr);
    // Only the ten not kept are asked, each once; the user message is the judge prompt's context
    // and question, byte for byte.
    assert.deepEqual([...asked].sort(), contextAndQuestion.slice(2).sort());
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.question_id),
      questions.map((q) => q.question_id),
    );
    assert.deepEqual(
      lines.map((l) => l.category),
      questions.map((q) => q.category),
    );
    assert.deepEqual(Object.keys(lines[5]!), ['question_id', 'text', 'category', 'model_id']);
    assert.equal(lines[0]!.text, 'kept');
    // Each answer is written beside its own question, in question order.
    lines.slice(2).forEach((l, k) => {
      assert.equal(l.text, `Reference answer to question ${k + 2}.`);
      assert.equal(l.model_id, 'ref-model');
    });

    // Judged against it, each review names the reference model.
    const reviews = join(tmp, 'reviews.jsonl');
    const j = await llava([
      'judge',
      '-q',
      golden('bench/coco/questions.jsonl'),
      '-c',
      golden('bench/coco/context.jsonl'),
      '-a',
      out,
      golden('bench/coco/answers/llava-v1.5-13b.jsonl'),
      '-r',
      golden('bench/rule.json'),
      '-o',
      reviews,
      ...common.map((a) => (a === 'ref-model' ? 'judge-model' : a)),
    ]);
    assert.equal(j.code, 0, j.stderr);
    const judged = readFileSync(reviews, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(judged.length, questions.length);
    assert.ok(judged.every((rv) => rv.judge.model === 'judge-model' && rv.judge.reference === 'ref-model'));
  } finally {
    await server.close();
  }
  const bad = spawnSync(process.execPath, [MAIN, 'eval', 'reference', '-q', 'x', '-c', 'y', '-o', 'z'], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--model is required/);
});
