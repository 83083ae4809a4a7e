// A judge run over the reference's qa90 files (questions, GPT-4 answers, caps/boxes, rule.json)
// through the real `llava eval judge`, against a scripted judge that answers some first attempts
// with a 429, a dropped connection or a malformed body. The first run is killed with SIGKILL at a
// moment the server sets up: every question before K reviewed, K held unanswered, and the replies
// for K+1 and K+2 already delivered (so they can only live in the response cache, not in the
// review file, which is written in order). The rerun finishes the file; the server's books show
// every prompt paid exactly once, and the command's cost is the server's tokens at the test's price.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseScore, readJsonlObjects, readJudgeInputs, reviewUsage, summarize } from '../../src/eval/index.js';
import { startJudgeServer, when, type JudgeAction } from './judge-server.js';
import { CAPS_BOXES_80, MAIN, QA90, RULE_JSON } from './paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'llava-judge-kill-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const QUESTIONS = join(QA90, 'qa90_questions.jsonl');
const GPT4 = join(QA90, 'qa90_gpt4_answer.jsonl');
const CONCURRENCY = 4;
const K = 40;
const PRICE = { input: 3, output: 15 }; // USD per 1M tokens

/** A deterministic reply per prompt; every 9th has no score pair on its first line. */
function replyFor(prompt: string, index: number): string {
  const h = createHash('sha256').update(prompt).digest();
  if (index % 9 === 4) return `Score: ${1 + (h[0]! % 10)}\nThe first line is not a score pair.`;
  return `${1 + (h[0]! % 10)} ${1 + (h[1]! % 10)}\nExplanation ${h.toString('hex').slice(0, 8)}.`;
}

test('judge over qa90: SIGKILL mid-run, resume, no review paid twice, cost equals the server log', async () => {
  // The model's answers: one per qa90 question, with answer ids, in the model_vqa format.
  const answers = join(tmp, 'answers.jsonl');
  const questions = readJsonlObjects(QUESTIONS).map((q) => q.record);
  writeFileSync(
    answers,
    questions
      .map(
        (q, i) =>
          JSON.stringify({
            question_id: q.question_id,
            prompt: q.text,
            text: `Answer ${i}: it is what it is.`,
            answer_id: `A${i}`,
            model_id: 'tiny',
            metadata: {},
          }) + '\n',
      )
      .join(''),
  );
  const prices = join(tmp, 'prices.json');
  writeFileSync(prices, JSON.stringify({ 'judge-test': PRICE }));
  // The server tells questions apart by their prompt.
  const items = readJudgeInputs({
    questions: QUESTIONS,
    context: CAPS_BOXES_80,
    referenceAnswers: GPT4,
    answers,
    rules: RULE_JSON,
  }).items;
  assert.equal(items.length, 90);
  const indexOf = new Map(items.map((item) => [item.prompt, item.index]));

  let phase: 'kill' | 'resume' = 'kill';
  const server = await startJudgeServer((prompt, attempt): JudgeAction => {
    const i = indexOf.get(prompt);
    assert.ok(i !== undefined, 'a prompt the test did not expect');
    if (attempt === 0 && i < K) {
      if (i % 7 === 3) return { kind: '429' };
      if (i % 11 === 5) return { kind: 'drop' };
      if (i % 13 === 6) return { kind: 'malformed' };
    }
    if (phase === 'kill' && i >= K && i !== K + 1 && i !== K + 2) return { kind: 'hold' };
    return { kind: 'reply', content: replyFor(prompt, i) };
  });
  const out = join(tmp, 'reviews', 'llava-tiny.jsonl');
  const args = [
    ...['eval', 'judge', '--no-progress', '-q', QUESTIONS, '-c', CAPS_BOXES_80, '-a', GPT4, answers, '-r', RULE_JSON],
    ...['-o', out, '--model', 'judge-test', '--base-url', server.baseURL, '--concurrency', String(CONCURRENCY)],
    ...['--prices', prices, '--timeout', '60'],
  ];
  const start = () => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exit = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((done) =>
      child.on('close', (code, signal) => done({ code, signal, stdout, stderr })),
    );
    return { child, exit };
  };
  try {
    const first = start();
    const paidIndex = () => new Set(server.paid.map((p) => indexOf.get(p.prompt)));
    // Every worker waits on a held request: all delivered replies have been handled (each worker
    // asks for its next question only after caching the last reply).
    await when(server, () => paidIndex().has(K + 1) && paidIndex().has(K + 2) && server.held.size === CONCURRENCY);
    first.child.kill('SIGKILL');
    const killed = await first.exit;
    assert.equal(killed.signal, 'SIGKILL');
    const partial = readFileSync(out, 'utf8').split('\n').length - 1;
    assert.equal(partial, K, 'the reviews before K are in the file, in order');
    assert.equal(server.paid.length, K + 2);

    phase = 'resume';
    const second = start();
    const done = await second.exit;
    assert.equal(done.code, 0, done.stderr);

    // Paid once each: 90 deliveries, one per prompt; K+1 and K+2 were not even asked again.
    assert.equal(server.paid.length, 90);
    assert.equal(new Set(server.paid.map((p) => p.prompt)).size, 90);
    for (const i of [K + 1, K + 2]) assert.equal(server.requests.get(items[i]!.prompt), 1);
    // Some first attempts failed and were retried.
    assert.ok([...server.requests.values()].some((n) => n > 1));

    // The review file: 90 reviews in question order, each with its reply and its parse.
    const reviews = readJsonlObjects(out).map((r) => r.record);
    assert.equal(reviews.length, 90);
    reviews.forEach((r, i) => {
      assert.equal(r.id, i + 1);
      assert.equal(r.question_id, items[i]!.questionId);
      assert.equal(r.category, questions[i]!.category);
      assert.equal(r.content, replyFor(items[i]!.prompt, i));
      assert.deepEqual(r.tuple, parseScore(r.content as string).pair.scores);
      assert.equal((r.judge as { model: string }).model, 'judge-test');
      assert.equal(
        (r.judge as { prompt_sha256: string }).prompt_sha256,
        createHash('sha256').update(items[i]!.prompt).digest('hex'),
      );
    });

    // Cost: the server's tokens at the test's price.
    const tokens = server.paid.reduce(
      (t, p) => ({ prompt: t.prompt + p.promptTokens, completion: t.completion + p.completionTokens }),
      { prompt: 0, completion: 0 },
    );
    assert.deepEqual(reviewUsage(reviews), { promptTokens: tokens.prompt, completionTokens: tokens.completion });
    const usd = (tokens.prompt * PRICE.input + tokens.completion * PRICE.output) / 1e6;
    assert.match(
      done.stdout,
      new RegExp(
        `all reviews: ${tokens.prompt} prompt \\+ ${tokens.completion} completion tokens, \\$${usd.toFixed(4).replace('.', '\\.')}`,
      ),
    );
    assert.match(done.stdout, /\(\d+ this run, 40 resumed\)/);
    assert.match(done.stdout, /2 from cache/);

    // The summary reads it: 30 questions per category, all 90 in 'all'.
    const [summary] = summarize({ files: [out] });
    assert.deepEqual(
      summary!.rows.map((r) => [r.key, r.count]),
      [
        ['all', 90],
        ['complex', 30],
        ['conv', 30],
        ['detail', 30],
      ],
    );
  } finally {
    await server.close();
  }
});
