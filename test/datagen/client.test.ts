import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { backoffDelayMs, retryAfterMs } from '../../src/datagen/backoff.js';
import { ChatClient, RequestFailed, type ClientOptions } from '../../src/datagen/index.js';
import { startFakeServer, type Action, type FakeServer } from './fake-server.js';

const servers: FakeServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

/** A server that plays `actions` in order, then replies "ok" to everything. */
async function serve(actions: Action[]): Promise<FakeServer> {
  const server = await startFakeServer((_req, i) => actions[i] ?? { kind: 'reply', content: 'ok' });
  servers.push(server);
  return server;
}

function client(server: FakeServer, options: Partial<ClientOptions> = {}): ChatClient {
  return new ChatClient({
    baseURL: server.baseURL,
    apiKey: 'test',
    model: 'm',
    timeoutMs: 2000,
    maxRetries: 4,
    backoff: { baseMs: 5, capMs: 20, maxRetryAfterMs: 5000 },
    ...options,
  });
}

const body = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };

test('Retry-After and retry-after-ms are read in seconds, as HTTP dates, and in ms', () => {
  const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
  assert.equal(retryAfterMs(new Headers({ 'retry-after': '2' }), now), 2000);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': '0.5' }), now), 500);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': 'Wed, 21 Oct 2026 07:28:30 GMT' }), now), 30_000);
  assert.equal(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now), 250);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now), undefined);
  assert.equal(retryAfterMs(new Headers(), now), undefined);
});

test('back-off: full jitter under an exponential cap; server hints honoured plus up to 10%', () => {
  const options = { baseMs: 1000, capMs: 60_000, maxRetryAfterMs: 600_000 };
  assert.equal(
    backoffDelayMs(0, undefined, options, () => 0.5),
    500,
  );
  assert.equal(
    backoffDelayMs(3, undefined, options, () => 0.5),
    4000,
  );
  assert.equal(
    backoffDelayMs(10, undefined, options, () => 0.999),
    59_940,
  );
  assert.equal(
    backoffDelayMs(0, 3000, options, () => 0),
    3000,
  );
  assert.equal(
    backoffDelayMs(0, 3000, options, () => 1),
    3300,
  );
  assert.equal(
    backoffDelayMs(0, 3_600_000, options, () => 0),
    600_000,
  );
});

test('a burst of 429 with Retry-After is waited out, then the reply arrives', async () => {
  const limited: Action = { kind: 'status', status: 429, headers: { 'retry-after-ms': '150' } };
  const server = await serve([limited, limited, limited]);
  const retried: string[] = [];
  const completion = await client(server).complete(body, { onRetry: (cause) => retried.push(cause) });
  assert.equal(completion.content, 'ok');
  assert.deepEqual(retried, ['429', '429', '429']);
  assert.equal(server.requests.length, 4);
  for (let i = 1; i < 4; i++)
    assert.ok(server.arrivals[i]! - server.arrivals[i - 1]! >= 150, `retry ${i} waited at least the 150 ms asked for`);
});

test('Retry-After in seconds on a 503 is honoured', async () => {
  const server = await serve([{ kind: 'status', status: 503, headers: { 'retry-after': '1' } }]);
  assert.equal((await client(server).complete(body)).content, 'ok');
  assert.ok(server.arrivals[1]! - server.arrivals[0]! >= 1000);
});

test('5xx, dropped connections, malformed bodies and slow replies are retried', async () => {
  const server = await serve([
    { kind: 'status', status: 500 },
    { kind: 'drop' },
    { kind: 'malformed', body: '{"choices": [' },
    { kind: 'malformed', body: '<html>bad gateway</html>', contentType: 'text/html' },
    { kind: 'malformed', body: '{"object": "chat.completion"}' },
    { kind: 'reply', content: 'late', delayMs: 1500 },
    { kind: 'stall' },
  ]);
  const retried: string[] = [];
  let sent = 0;
  const completion = await client(server, { timeoutMs: 300, maxRetries: 8 }).complete(body, {
    onSend: () => sent++,
    onRetry: (cause) => retried.push(cause),
  });
  assert.equal(completion.content, 'ok');
  assert.deepEqual(retried, ['5xx', 'network', 'malformed', 'malformed', 'malformed', 'timeout', 'timeout']);
  assert.equal(server.requests.length, 8);
  assert.equal(sent, 8, 'every attempt is announced before it is sent');
});

test('retries run out: the failure names the reason and the attempts', async () => {
  const server = await serve(Array.from({ length: 10 }, (): Action => ({ kind: 'status', status: 503 })));
  await assert.rejects(client(server, { maxRetries: 2 }).complete(body), (err: unknown) => {
    assert.ok(err instanceof RequestFailed);
    assert.equal(err.reason, 'http 503');
    assert.equal(err.attempts, 3);
    assert.equal(err.fatal, false);
    assert.match(err.message, /HTTP 503.*after 3 attempts/);
    return true;
  });
  assert.equal(server.requests.length, 3);
});

test('401/403/404 are fatal and 400 fails this request only; neither is retried', async () => {
  for (const [status, fatal] of [
    [401, true],
    [403, true],
    [404, true],
    [400, false],
    [422, false],
  ] as const) {
    const server = await serve([{ kind: 'status', status }]);
    await assert.rejects(
      client(server).complete(body),
      (err: unknown) => err instanceof RequestFailed && err.fatal === fatal && err.reason === `http ${status}`,
    );
    assert.equal(server.requests.length, 1, `HTTP ${status} is not retried`);
  }
});

test('the request carries model and sampling settings; the SDK retries nothing itself', async () => {
  const server = await serve([]);
  const c = client(server, { temperature: 0.2, maxTokens: 64 });
  await c.complete(c.requestBody([{ role: 'user', content: 'x' }]));
  assert.deepEqual(server.requests[0], {
    model: 'm',
    messages: [{ role: 'user', content: 'x' }],
    temperature: 0.2,
    max_tokens: 64,
  });
  const once = await serve([{ kind: 'status', status: 500 }]);
  await assert.rejects(client(once, { maxRetries: 0 }).complete(body), RequestFailed);
  assert.equal(once.requests.length, 1);
});

test('aborting stops a request in flight and a back-off wait', async () => {
  const server = await serve([{ kind: 'reply', content: 'never', delayMs: 5000 }]);
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('interrupted')), 100);
  await assert.rejects(
    client(server, { timeoutMs: 10_000 }).complete(body, undefined, controller.signal),
    /interrupted/,
  );
  const waiting = await serve([{ kind: 'status', status: 429, headers: { 'retry-after': '30' } }]);
  const controller2 = new AbortController();
  setTimeout(() => controller2.abort(new Error('interrupted')), 100);
  await assert.rejects(client(waiting).complete(body, undefined, controller2.signal), /interrupted/);
});

test('408 and 409 are retried as one cause; back-off and client options are validated, naming the field', async () => {
  const server = await serve([
    { kind: 'status', status: 408 },
    { kind: 'status', status: 409 },
    { kind: 'status', status: 502 },
  ]);
  const retried: string[] = [];
  await client(server).complete(body, { onRetry: (cause) => retried.push(cause) });
  assert.deepEqual(retried, ['408/409', '408/409', '5xx']);

  const bad: [Partial<ClientOptions>, RegExp][] = [
    [{ backoff: { baseMs: 0, capMs: 10, maxRetryAfterMs: 0 } }, /backoff\.baseMs must be a positive number, got 0/],
    [
      { backoff: { baseMs: 10, capMs: 5, maxRetryAfterMs: 0 } },
      /backoff\.capMs must be a number >= backoff\.baseMs \(10\), got 5/,
    ],
    [{ backoff: { baseMs: NaN, capMs: 5, maxRetryAfterMs: 0 } }, /backoff\.baseMs must be a positive number, got NaN/],
    [{ backoff: { baseMs: 1, capMs: 5, maxRetryAfterMs: -1 } }, /backoff\.maxRetryAfterMs must be a number >= 0/],
    [{ maxRetries: 1.5 }, /maxRetries must be an integer >= 0, got 1\.5/],
    [{ timeoutMs: 0 }, /timeoutMs must be a positive number, got 0/],
  ];
  for (const [options, message] of bad) assert.throws(() => client(server, options), message);
});
