import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DETAIL_INSTRUCTIONS, runDatagen } from '../../src/datagen/index.js';
import { typeOf, validReply, queryOf, type Action, type Script } from './fake-server.js';
import { contexts, imageOf, options, prompts, serve } from './run-helpers.js';
import { tempDir } from './tmp.js';

const tmp = () => tempDir('run');

async function readJsonl(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const outputNames = ['conversation.jsonl', 'detail_description.jsonl', 'complex_reasoning.jsonl', 'rejects.jsonl'];
async function outputBytes(dir: string): Promise<string[]> {
  return Promise.all(outputNames.map((n) => readFile(join(dir, n), 'utf8').catch(() => '')));
}

/** Valid replies, except scripted trouble for a few images. */
const mixedScript: Script = (request) => {
  const image = imageOf(request);
  const type = typeOf(request);
  if (image === 3 && type === 'conversation')
    return { kind: 'reply', content: 'Sure! Here is a conversation about the image.' };
  if (image === 5 && type === 'complex_reasoning')
    return { kind: 'reply', content: null, refusal: 'I cannot help with that.' };
  if (image === 7 && type === 'detail_description')
    return { kind: 'reply', content: 'The image shows a', finishReason: 'length' };
  if ((image === 10 || image === 11) && type === 'detail_description')
    return { kind: 'reply', content: 'The same words for two images.' };
  return { kind: 'reply', content: validReply(request) };
};

test('a run over the 80 reference records writes records, rejects with reasons, and the accounting', async () => {
  const server = await serve(mixedScript);
  const out = await tmp();
  const summary = await runDatagen(options(server, out));
  assert.equal(server.requests.length, 240);
  assert.equal(summary.tasks, 240);
  assert.equal(summary.finished, 240);
  assert.equal(summary.unfinished, 0);
  assert.equal(summary.stopped, null);
  assert.deepEqual(summary.records, { conversation: 79, detail_description: 78, complex_reasoning: 79 });
  assert.deepEqual(summary.rejects, {
    'block without Question:/Answer: header': 1,
    refusal: 1,
    'truncated reply': 1,
    'duplicate reply': 1,
  });
  assert.equal(summary.requests.attempts, 240);
  assert.equal(summary.requests.successes, 240);
  assert.equal(summary.requests.cached, 0);
  assert.equal(summary.requests.without_usage, 0);

  // Token usage is what the server reported: ceil(prompt chars / 4) per request.
  const promptTokens = server.requests.reduce(
    (n, r) => n + Math.ceil(r.messages.reduce((c, m) => c + m.content.length, 0) / 4),
    0,
  );
  const { usage } = summary.requests;
  assert.equal(usage.promptTokens, promptTokens);
  assert.equal(summary.cost_usd, (usage.promptTokens * 0.15 + usage.completionTokens * 0.6) / 1e6);
  const { cached: _, ...counts } = summary.requests;
  assert.deepEqual(summary.totals, { ...counts, runs: 1, cost_usd: summary.cost_usd }, 'one run: totals are its own');

  const conversation = await readJsonl(join(out, 'conversation.jsonl'));
  assert.deepEqual(
    conversation.map((r) => r.id),
    contexts.filter((_, i) => i !== 3).map((c) => c.id),
    'records in input order',
  );
  const first = contexts[0]!;
  const query = first.captions.join('\n');
  const request = server.requests.find((r) => queryOf(r) === query)!;
  assert.deepEqual(conversation[0], {
    id: first.id,
    image: first.image,
    conversations: [
      { from: 'human', value: `<image>\n${validReply(request).split('\n')[1]}` },
      { from: 'gpt', value: first.captions[0] },
      { from: 'human', value: 'How many lines describe it?' },
      { from: 'gpt', value: `${first.captions.length} lines.` },
    ],
  });
  for (const record of await readJsonl(join(out, 'detail_description.jsonl'))) {
    const turns = record.conversations as { from: string; value: string }[];
    assert.equal(turns.length, 2);
    assert.ok(
      turns[0]!.value.startsWith('<image>\n') && DETAIL_INSTRUCTIONS.includes(turns[0]!.value.slice(8)),
      turns[0]!.value,
    );
  }
  const rejects = await readJsonl(join(out, 'rejects.jsonl'));
  assert.deepEqual(
    rejects.map((r) => [r.type, r.id, r.reason]),
    [
      ['conversation', contexts[3]!.id, 'block without Question:/Answer: header'],
      ['complex_reasoning', contexts[5]!.id, 'refusal'],
      ['detail_description', contexts[7]!.id, 'truncated reply'],
      ['detail_description', contexts[11]!.id, 'duplicate reply'],
    ],
  );
  assert.equal(rejects[3]!.detail, `same answers as detail_description ${contexts[10]!.id}`);
  assert.equal(rejects[0]!.reply, 'Sure! Here is a conversation about the image.');
  assert.deepEqual(JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')), summary);

  // The same command again: everything is done, nothing is sent, nothing changes.
  const before = await outputBytes(out);
  const again = await runDatagen(options(server, out));
  assert.equal(server.requests.length, 240);
  assert.equal(again.tasks, 0);
  assert.deepEqual(again.resumed, { records: 236, rejects: 4 });
  assert.deepEqual(await outputBytes(out), before);

  // A fresh output folder with the same cache costs nothing and writes the same bytes.
  const out2 = await tmp();
  const cached = await runDatagen(options(server, out2, { cacheDir: join(out, 'cache') }));
  assert.equal(server.requests.length, 240);
  assert.equal(cached.requests.attempts, 0);
  assert.equal(cached.requests.cached, 240);
  assert.equal(cached.cost_usd, 0);
  assert.equal(cached.cost_saved_by_cache_usd, summary.cost_usd);
  assert.deepEqual(await outputBytes(out2), before);
});

test('output bytes do not depend on concurrency or on the order replies arrive', async () => {
  // Replies come back after a delay drawn from the request, so completion order is scrambled.
  const server = await serve((request) => ({
    kind: 'reply',
    content: validReply(request),
    delayMs: (queryOf(request).length * 7919) % 23,
  }));
  const serial = await tmp();
  const parallel = await tmp();
  await runDatagen(options(server, serial, { contexts: contexts.slice(0, 30), concurrency: 1, cacheDir: null }));
  await runDatagen(options(server, parallel, { contexts: contexts.slice(0, 30), concurrency: 16, cacheDir: null }));
  assert.equal(server.requests.length, 180);
  assert.deepEqual(await outputBytes(parallel), await outputBytes(serial));
});

test('a request that keeps failing is logged, left unfinished, and done by the next run', async () => {
  let healthy = false;
  const server = await serve((request): Action =>
    !healthy && imageOf(request) === 2 && typeOf(request) === 'conversation'
      ? { kind: 'status', status: 503 }
      : { kind: 'reply', content: validReply(request) },
  );
  const out = await tmp();
  const some = contexts.slice(0, 6);
  const first = await runDatagen(options(server, out, { contexts: some }));
  assert.equal(first.failed, 1);
  assert.equal(first.unfinished, 1);
  assert.deepEqual(first.failures, { 'http 503': 1 });
  assert.equal(first.requests.retries['5xx'], 1);
  const failures = await readJsonl(join(out, 'failures.jsonl'));
  assert.deepEqual(
    failures.map((f) => [f.type, f.id, f.reason]),
    [['conversation', some[2]!.id, 'http 503']],
  );
  assert.equal((await readJsonl(join(out, 'conversation.jsonl'))).length, 5);

  healthy = true;
  const sentBefore = server.requests.length;
  const second = await runDatagen(options(server, out, { contexts: some }));
  assert.equal(second.tasks, 1);
  assert.equal(server.requests.length, sentBefore + 1);
  assert.deepEqual(
    (await readJsonl(join(out, 'conversation.jsonl'))).map((r) => r.id).sort(),
    some.map((c) => c.id).sort(),
  );
});

test('a torn last line is cut off and its task redone from the cache', async () => {
  const server = await serve((request) => ({ kind: 'reply', content: validReply(request) }));
  const out = await tmp();
  const some = contexts.slice(0, 4);
  await runDatagen(options(server, out, { contexts: some }));
  const complete = await outputBytes(out);
  const lines = complete[0]!.split('\n');
  // Simulate a kill in the middle of writing the last record: drop it and leave half a line.
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(out, 'conversation.jsonl'), `${lines.slice(0, -2).join('\n')}\n${lines.at(-2)!.slice(0, 25)}`);
  const resumed = await runDatagen(options(server, out, { contexts: some }));
  assert.equal(resumed.tasks, 1);
  assert.equal(resumed.requests.attempts, 0);
  assert.equal(resumed.requests.cached, 1);
  assert.deepEqual(await outputBytes(out), complete);
});

test('resuming with other settings is refused, naming them', async () => {
  const server = await serve((request) => ({ kind: 'reply', content: validReply(request) }));
  const out = await tmp();
  await runDatagen(options(server, out, { contexts: contexts.slice(0, 1) }));
  await assert.rejects(
    runDatagen(options(server, out, { contexts: contexts.slice(0, 1), seed: 1 })),
    /was started with other settings \(seed: 0 -> 1\)/,
  );
  const otherPrompts = [{ ...prompts[0]!, system: 'other' }];
  await assert.rejects(runDatagen(options(server, out, { prompts: otherPrompts })), /prompts_sha256\.conversation/);
});

test('the run stops after N failures in a row, and at once on a bad key', async () => {
  const down = await serve(() => ({ kind: 'status', status: 500 }));
  const out = await tmp();
  const summary = await runDatagen(
    options(down, out, {
      concurrency: 1,
      maxConsecutiveFailures: 5,
      client: { ...options(down, out).client, maxRetries: 0 },
    }),
  );
  assert.match(summary.stopped ?? '', /^stopped: 5 requests in a row failed \(last: HTTP 500/);
  assert.equal(down.requests.length, 5);
  assert.equal(summary.unfinished, 240);

  const unauthorized = await serve(() => ({
    kind: 'status',
    status: 401,
    body: '{"error": {"message": "Incorrect API key provided"}}',
  }));
  const out2 = await tmp();
  const denied = await runDatagen(options(unauthorized, out2, { concurrency: 4 }));
  assert.match(
    denied.stopped ?? '',
    /^stopped: HTTP 401: .*Incorrect API key provided \(check --api-key \/ OPENAI_API_KEY\)/,
  );
  assert.ok(unauthorized.requests.length <= 4, `${unauthorized.requests.length} requests after a 401`);
  assert.deepEqual(await readdir(out2).then((names) => names.filter((n) => n.endsWith('.jsonl')).sort()), [
    'failures.jsonl',
    'ledger.jsonl',
  ]);
});

test('an input id seen twice is used once', async () => {
  const server = await serve((request) => ({ kind: 'reply', content: validReply(request) }));
  const warnings: string[] = [];
  const twice = [contexts[0]!, contexts[1]!, { ...contexts[2]!, id: contexts[0]!.id }];
  const summary = await runDatagen(
    options(server, await tmp(), { contexts: twice, prompts: prompts.slice(0, 1), warn: (m) => warnings.push(m) }),
  );
  assert.equal(summary.duplicate_inputs, 1);
  assert.equal(summary.tasks, 2);
  assert.deepEqual(warnings, [`input: id ${contexts[0]!.id} appears more than once; only the first is used`]);
});

test('Ctrl-C (abort) keeps what is done; the next run finishes the rest without paying twice', async () => {
  const server = await serve((request) => ({ kind: 'reply', content: validReply(request), delayMs: 20 }));
  const out = await tmp();
  const some = contexts.slice(0, 20);
  const controller = new AbortController();
  const stopping = runDatagen(options(server, out, { contexts: some, concurrency: 4, signal: controller.signal }));
  setTimeout(() => controller.abort(new Error('interrupted')), 150);
  const interrupted = await stopping;
  assert.equal(interrupted.stopped, 'interrupted');
  assert.ok(interrupted.finished > 0 && interrupted.finished < 60, `${interrupted.finished} finished before the abort`);
  const sentFirst = server.requests.length;
  const resumed = await runDatagen(options(server, out, { contexts: some, concurrency: 4 }));
  assert.equal(resumed.tasks, 60 - interrupted.finished);
  assert.ok(sentFirst + resumed.requests.attempts <= 60 + 4, 'only requests in flight at the abort are sent twice');
  assert.equal(resumed.totals.attempts, server.requests.length, 'the totals count both runs');
  assert.equal(resumed.totals.runs, 2);
  const reference = await tmp();
  await runDatagen(options(server, reference, { contexts: some, cacheDir: null }));
  assert.deepEqual(await outputBytes(out), await outputBytes(reference));
});

test('one slow request is overtaken once a window of results waits behind it', async () => {
  const server = await serve((request) => ({
    kind: 'reply',
    content: validReply(request),
    delayMs: imageOf(request) === 0 ? 1000 : 5,
  }));
  const out = await tmp();
  const some = contexts.slice(0, 12);
  const summary = await runDatagen(
    options(server, out, { contexts: some, prompts: prompts.slice(0, 1), concurrency: 3, reorderWindow: 4 }),
  );
  assert.equal(summary.records.conversation, 12);
  const ids = (await readJsonl(join(out, 'conversation.jsonl'))).map((r) => r.id);
  assert.deepEqual([...ids].sort(), some.map((c) => c.id).sort(), 'every record once');
  assert.notEqual(ids[0], some[0]!.id, 'the slow first task did not hold the others back');
  assert.deepEqual(
    ids.filter((id) => id !== some[0]!.id),
    some.slice(1).map((c) => c.id),
    'the rest stay in order',
  );
});
