// Accounting of HTTP attempts in runs: retries by cause and totals across runs against scripted
// servers, and the stop signal's listeners at high concurrency.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDatagen } from '../../src/datagen/index.js';
import { queryOf, typeOf, validReply, type Action, type ChatRequest, type Script } from './fake-server.js';
import { contexts, imageOf, options, serve } from './run-helpers.js';
import { tempDir } from './tmp.js';

const tmp = () => tempDir('attempts');

test('at concurrency 16 with a stop signal, no MaxListenersExceededWarning (one abort listener per request)', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  try {
    // Every fifth request is first answered 503, so back-off waits listen to the signal too.
    const seen = new Set<string>();
    const server = await serve((request): Action => {
      const query = `${typeOf(request)}\n${queryOf(request)}`;
      const first = !seen.has(query);
      seen.add(query);
      return first && imageOf(request) % 5 === 0
        ? { kind: 'status', status: 503 }
        : { kind: 'reply', content: validReply(request), delayMs: 20 };
    });
    const controller = new AbortController();
    const summary = await runDatagen(
      options(server, await tmp(), {
        contexts: contexts.slice(0, 40),
        concurrency: 16,
        signal: controller.signal,
        cacheDir: null,
      }),
    );
    assert.equal(summary.finished, 120);
    assert.equal(summary.requests.retries['5xx'], 24);
    await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on a later tick
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings, []);
});

/** Scripted trouble on the first attempt of some requests, tallied by the server as it answers. */
function troubleServer(alwaysFailing: (request: ChatRequest) => boolean) {
  const tally = { attempts: 0, replies: 0, '429': 0, '5xx': 0, timeout: 0, network: 0, malformed: 0, promptTokens: 0 };
  const seen = new Set<string>();
  const troubles: [keyof typeof tally, Action][] = [
    ['429', { kind: 'status', status: 429, headers: { 'retry-after-ms': '1' } }],
    ['5xx', { kind: 'status', status: 500 }],
    ['5xx', { kind: 'status', status: 503 }],
    ['network', { kind: 'drop' }],
    ['malformed', { kind: 'malformed', body: '{"choices": [' }],
    ['timeout', { kind: 'stall' }],
  ];
  const script: Script = (request) => {
    tally.attempts++;
    const query = `${typeOf(request)}\n${queryOf(request)}`;
    const first = !seen.has(query);
    seen.add(query);
    const image = imageOf(request);
    if (alwaysFailing(request)) {
      tally['5xx']++;
      return { kind: 'status', status: 502 };
    }
    if (first && image < 12 && typeOf(request) === 'conversation') {
      const [cause, action] = troubles[image % troubles.length]!;
      tally[cause]++;
      return action;
    }
    tally.replies++;
    // The fake server reports ceil(prompt characters / 4) prompt tokens.
    tally.promptTokens += Math.ceil(request.messages.reduce((n, m) => n + m.content.length, 0) / 4);
    return { kind: 'reply', content: validReply(request) };
  };
  return { tally, script };
}

test('retries are counted by cause, and totals add up every run on the folder', async () => {
  let broken = true;
  const { tally, script } = troubleServer((r) => broken && imageOf(r) === 20 && typeOf(r) === 'complex_reasoning');
  const server = await serve(script);
  const out = await tmp();
  const some = contexts.slice(0, 24);
  const client = { ...options(server, out).client, timeoutMs: 300, maxRetries: 2 };
  const first = await runDatagen(options(server, out, { contexts: some, client }));
  assert.equal(first.failed, 1, 'image 20 complex_reasoning gave up after 3 attempts');
  assert.deepEqual(first.requests.retries, {
    '429': tally['429'],
    '5xx': tally['5xx'] - 1, // the last of the three 502s is the failure, not a retry
    '408/409': 0,
    timeout: tally.timeout,
    network: tally.network,
    malformed: tally.malformed,
  });
  assert.deepEqual(
    [tally['429'], tally['5xx'], tally.timeout, tally.network, tally.malformed],
    [2, 4 + 3, 2, 2, 2],
    'the script ran as planned',
  );
  assert.equal(first.requests.attempts, tally.attempts);
  assert.equal(first.requests.successes, tally.replies);
  assert.equal(first.requests.failed, 1);

  broken = false;
  const second = await runDatagen(options(server, out, { contexts: some, client }));
  assert.equal(second.tasks, 1);
  assert.equal(second.requests.attempts, 1);
  const { totals } = second;
  assert.equal(totals.runs, 2);
  assert.equal(totals.attempts, tally.attempts);
  assert.equal(totals.attempts, server.requests.length);
  assert.equal(totals.successes, tally.replies);
  assert.equal(totals.successes, 72);
  assert.equal(totals.failed, 1);
  assert.equal(totals.retries['5xx'], tally['5xx'] - 1);
  assert.equal(totals.usage.promptTokens, tally.promptTokens);
  assert.equal(
    totals.usage.completionTokens,
    first.requests.usage.completionTokens + second.requests.usage.completionTokens,
  );
  assert.equal(totals.cost_usd, (totals.usage.promptTokens * 0.15 + totals.usage.completionTokens * 0.6) / 1e6);
  assert.deepEqual(JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')).totals, totals);
});
