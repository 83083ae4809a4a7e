// `llava serve`'s Ollama routes driven by the ollama npm client unchanged, and the engine behind both APIs over
// HTTP: concurrent requests sharing decode steps, a disconnect cancelling, a full queue answering 429.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { expected, imageQuestion, MODEL, post, recordResults, serverFixture, type Fixture } from './server-fixture.js';

let f: Fixture;
before(async () => {
  f = await serverFixture();
});
after(() => f.close());

test('Ollama client: /api/chat streams NDJSON with base64 images, /api/generate answers whole, /api/tags lists', async () => {
  const ollama = new Ollama({ host: f.main.url });
  const want = await expected(f, imageQuestion('Describe it'), [f.png], 10);
  const stream = await ollama.chat({
    model: MODEL,
    messages: [{ role: 'user', content: 'Describe it', images: [f.png.toString('base64')] }],
    stream: true,
    options: { temperature: 0, num_predict: 10 },
  });
  const parts = [];
  for await (const p of stream) parts.push(p);
  const last = parts.at(-1)!;
  assert.equal(parts.map((p) => p.message.content).join(''), want.text);
  assert.ok(parts.slice(0, -1).every((p) => !p.done));
  assert.equal(last.done, true);
  assert.equal(last.done_reason, want.finish);
  assert.equal(last.eval_count, want.completion);
  assert.equal(last.prompt_eval_count, want.prompt);
  for (const k of ['total_duration', 'prompt_eval_duration', 'eval_duration'] as const) assert.ok(last[k] > 0, k);
  assert.ok(last.total_duration >= last.eval_duration);

  const wantText = await expected(f, [{ role: 'user', content: 'Why is the sky blue?' }], [], 6);
  const g = await ollama.generate({
    model: `${MODEL}:latest`,
    prompt: 'Why is the sky blue?',
    options: { temperature: 0, num_predict: 6 },
  });
  assert.equal(g.response, wantText.text);
  assert.equal(g.done, true);
  assert.equal(g.eval_count, wantText.completion);

  const tags = await ollama.list();
  assert.deepEqual(
    tags.models.map((m) => m.name),
    [`${MODEL}:latest`],
  );
  await assert.rejects(
    ollama.chat({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] }),
    (err: unknown) => {
      const e = err as { status_code?: number; message: string };
      return e.status_code === 404 && /not found/.test(e.message);
    },
  );
  const bad = await fetch(`${f.main.url}/api/generate`, {
    method: 'POST',
    body: JSON.stringify({ model: MODEL, prompt: 'x', images: ['!!!'] }),
  });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /images\[0\] is not base64/);
  const broken = await fetch(`${f.main.url}/api/chat`, { method: 'POST', body: '{' });
  assert.equal(broken.status, 400);
  assert.equal(typeof ((await broken.json()) as { error: string }).error, 'string');
});

test('concurrent HTTP requests share decode steps and each gets its own greedy reply', async () => {
  const s = await f.serve();
  const ctx = s.ctx;
  const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const questions = ['First question', 'A second, longer question here', 'Third', 'And the fourth one'];
  const want = await Promise.all(questions.map((q) => expected(f, [{ role: 'user', content: q }], [], 14)));
  // How many requests decode together, seen from inside the engine at each piece of text.
  let mostActive = 0;
  const submit = ctx.engine.submit.bind(ctx.engine);
  ctx.engine.submit = (r) =>
    submit({
      ...r,
      onText: (piece) => {
        mostActive = Math.max(mostActive, ctx.engine.load.active);
        r.onText?.(piece);
      },
    });
  const replies = await Promise.all(
    questions.map(async (q, i) => {
      if (i % 2 === 0) {
        const r = await client.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: q }],
          temperature: 0,
          max_tokens: 14,
        });
        return r.choices[0]!.message.content;
      }
      const stream = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: q }],
        temperature: 0,
        max_tokens: 14,
        stream: true,
      });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      return text;
    }),
  );
  assert.deepEqual(
    replies,
    want.map((w) => w.text),
  );
  assert.ok(mostActive >= 2, `at most ${mostActive} request(s) decoded together`);
});

test('a client that disconnects mid-stream cancels its generation at the next step', async () => {
  const s = await f.serve();
  const ctx = s.ctx;
  const results = recordResults(ctx);
  const controller = new AbortController();
  const res = await fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content: 'Go on' }],
      max_tokens: 220,
      stream: true,
    }),
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  controller.abort();
  const result = await results[0]!;
  assert.equal(result.finishReason, 'cancelled');
  assert.ok(result.tokens.length < 220, `${result.tokens.length} tokens`);
  assert.equal(ctx.engine.load.active, 0);
});

test('a full queue answers 429 with Retry-After, for both APIs, and serves again once there is room', async () => {
  const s = await f.serve({ maxBatch: 1, maxQueue: 0 });
  const ctx = s.ctx;
  const results = recordResults(ctx);
  const controller = new AbortController();
  const res = await fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content: 'Busy' }],
      max_tokens: 220,
      stream: true,
    }),
    signal: controller.signal,
  });
  await res.body!.getReader().read();
  const refused = await post(`${s.url}/v1/chat/completions`, {
    model: MODEL,
    messages: [{ role: 'user', content: 'me too' }],
  });
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get('retry-after'), '1');
  assert.equal(refused.json.error.code, 'rate_limit_exceeded');
  const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    OpenAI.RateLimitError,
  );
  const ollama = await fetch(`${s.url}/api/generate`, {
    method: 'POST',
    body: JSON.stringify({ model: MODEL, prompt: 'x' }),
  });
  assert.equal(ollama.status, 429);
  assert.equal(typeof ((await ollama.json()) as { error: string }).error, 'string');
  controller.abort();
  await results[0];
  const ok = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 2,
  });
  assert.equal(ok.choices.length, 1);
});
