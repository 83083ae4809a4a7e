// `llava serve` over real HTTP on loopback, driven by the official clients unchanged (the openai SDK, the ollama npm
// client) and by raw fetch for what clients never send. The model is small and random, saved and reloaded; expected
// replies come from model.generate called directly on the same prompt (greedy), not from the server's own code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { LlavaForConditionalGeneration } from '../../src/models/llava.js';
import { LlavaProcessor } from '../../src/serve/processor.js';
import { BatchEngine, type EngineResult } from '../../src/serve/engine.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import type { ServeContext } from '../../src/serve/chat-job.js';
import type { ChatMessage } from '../../src/text/chat-template.js';
import { coordinates, rawImage } from '../helpers/text-images.js';
import { ids } from '../helpers/golden.js';
import { tempDir, writeSmallLlava } from './helpers.js';

const temp = tempDir('llava-serve-');
writeSmallLlava(temp.dir);
const model = LlavaForConditionalGeneration.fromPretrained(temp.dir);
model.eval();
const processor = LlavaProcessor.fromPretrained(temp.dir, { maxPixels: 1_000_000 });
const MODEL = 'tiny-llava';
const servers: RunningServer[] = [];
const engines: BatchEngine[] = [];

function context(engineOptions: ConstructorParameters<typeof BatchEngine>[2] = {}): ServeContext {
  const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 4, ...engineOptions });
  engines.push(engine);
  return { modelId: MODEL, engine, processor, limits: { maxImages: 2 } };
}
async function serve(ctx: ServeContext, options: Parameters<typeof startServer>[1] = {}): Promise<RunningServer> {
  const s = await startServer(ctx, { port: 0, maxBodyBytes: 1_000_000, ...options });
  servers.push(s);
  return s;
}

let main: RunningServer;
let mainCtx: ServeContext;
let openai: OpenAI;
let png: Buffer;
let dataUrl: string;
before(async () => {
  mainCtx = context();
  main = await serve(mainCtx);
  openai = new OpenAI({ baseURL: `${main.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  png = await rawImage(coordinates(24, 20), 24, 20, 3).png().toBuffer();
  dataUrl = `data:image/png;base64,${png.toString('base64')}`;
});
after(async () => {
  for (const s of servers) await s.close();
  for (const e of engines) e.close();
  temp.remove();
});

/** model.generate on the processor's prompt for these messages: the greedy reply and its token counts. */
async function expected(messages: ChatMessage[], images: Buffer[], maxNewTokens: number) {
  const inputs = await processor.process({ messages, images });
  const L = inputs.inputIds.size(1);
  const seq = await model.generate({ ...inputs, maxNewTokens });
  let tokens = ids(seq.narrow(1, L, seq.size(1) - L));
  const eos = tokens.indexOf(2);
  if (eos >= 0) tokens = tokens.slice(0, eos + 1);
  return {
    text: processor.tokenizer.decode(tokens, { skipSpecialTokens: true }),
    completion: tokens.length,
    finish: eos >= 0 ? 'stop' : 'length',
    prompt: L,
  };
}

const imageQuestion = (question: string): ChatMessage[] => [
  { role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] },
];

test('OpenAI SDK: a text chat completion is the greedy reply, with usage counted', async () => {
  const want = await expected([{ role: 'user', content: 'Hello there' }], [], 12);
  const r = await openai.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'Hello there' }],
    temperature: 0,
    max_tokens: 12,
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0]!.message.role, 'assistant');
  assert.equal(r.choices[0]!.message.content, want.text);
  assert.equal(r.choices[0]!.finish_reason, want.finish);
  assert.deepEqual(r.usage, {
    prompt_tokens: want.prompt,
    completion_tokens: want.completion,
    total_tokens: want.prompt + want.completion,
  });
});

test('OpenAI SDK: streaming an image question gives the same reply in chunks, a usage chunk, then [DONE]', async () => {
  const want = await expected(imageQuestion('What is in the picture?'), [png], 16);
  const stream = await openai.chat.completions.create({
    model: MODEL,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: dataUrl } },
          { type: 'text', text: 'What is in the picture?' },
        ],
      },
    ],
    temperature: 0,
    max_completion_tokens: 16,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  assert.equal(text, want.text);
  assert.ok(chunks.length >= 4, `${chunks.length} chunks`);
  const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
  assert.equal(finish.length, 1);
  assert.equal(finish[0]!.choices[0]!.finish_reason, want.finish);
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, {
    prompt_tokens: want.prompt,
    completion_tokens: want.completion,
    total_tokens: want.prompt + want.completion,
  });
  // The wire format itself: events end with data: [DONE].
  const raw = await fetch(`${main.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, stream: true }),
  });
  assert.equal(raw.headers.get('content-type'), 'text/event-stream');
  assert.ok((await raw.text()).endsWith('data: [DONE]\n\n'));
});

test('OpenAI SDK: stop strings cut the reply; a seed makes sampling repeat', async () => {
  const want = await expected([{ role: 'user', content: 'Say something' }], [], 24);
  const words = want.text.trim().split(/\s+/);
  assert.ok(words.length >= 3, `premise: a reply of several words (${JSON.stringify(want.text)})`);
  const stop = words[2]!;
  const r = await openai.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'Say something' }],
    temperature: 0,
    max_tokens: 24,
    stop: [stop],
  });
  assert.equal(r.choices[0]!.message.content, want.text.slice(0, want.text.indexOf(stop)));
  assert.equal(r.choices[0]!.finish_reason, 'stop');
  const sampled = () =>
    openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say something' }],
      temperature: 1,
      top_p: 0.95,
      seed: 42,
      max_tokens: 16,
    });
  const [a, b] = await Promise.all([sampled(), sampled()]);
  assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
});

test('OpenAI SDK: /v1/models lists the model with its input modalities; /health answers', async () => {
  const models = await openai.models.list();
  assert.equal(models.data.length, 1);
  const m = models.data[0] as unknown as { id: string; input_modalities: string[] };
  assert.equal(m.id, MODEL);
  assert.deepEqual(m.input_modalities, ['text', 'image']);
  assert.equal((await openai.models.retrieve(MODEL)).id, MODEL);
  const health = (await (await fetch(`${main.url}/health`)).json()) as { status: string };
  assert.equal(health.status, 'ok');
});

/** A raw POST; resolves to the status, headers and parsed JSON body. */
async function post(url: string, body: string | object) {
  const res = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, json: (await res.json()) as { error: Record<string, unknown> } };
}

test('bad input of every kind is an OpenAI-style error with the right status, and the server keeps serving', async () => {
  const url = `${main.url}/v1/chat/completions`;
  const user = (content: unknown) => ({ model: MODEL, messages: [{ role: 'user', content }] });
  const image = (u: string) => ({ type: 'image_url', image_url: { url: u } });
  const big = await rawImage(Buffer.alloc(1001 * 1000 * 3, 128), 1001, 1000, 3)
    .png()
    .toBuffer();
  const cases: [string, string | object, number, Record<string, unknown>][] = [
    ['malformed JSON', '{"model": "x", ', 400, { type: 'invalid_request_error', code: 'invalid_json' }],
    ['oversized body', user('x'.repeat(1_100_000)), 413, { code: 'request_too_large' }],
    ['unknown model', { ...user('hi'), model: 'gpt-4o' }, 404, { code: 'model_not_found', param: 'model' }],
    ['no messages', { model: MODEL, messages: [] }, 400, { param: 'messages' }],
    [
      'unsupported part',
      user([{ type: 'input_audio', input_audio: {} }]),
      400,
      { param: 'messages[0].content[0].type' },
    ],
    [
      'image over the pixel limit',
      user([image(`data:image/png;base64,${big.toString('base64')}`), { type: 'text', text: 'hi' }]),
      400,
      { param: 'messages[0].content[0].image_url', code: 'invalid_image' },
    ],
    [
      'too many images',
      user([image(dataUrl), image(dataUrl), image(dataUrl), { type: 'text', text: 'hi' }]),
      400,
      { param: 'messages' },
    ],
    [
      'an image that does not decode',
      user([image(`data:image/png;base64,${Buffer.from('not an image at all').toString('base64')}`)]),
      400,
      { code: 'invalid_image' },
    ],
    ['a data: URL that is not base64', user([image('data:image/png,abc')]), 400, { code: 'invalid_image_url' }],
    [
      'max_tokens beyond the context',
      { ...user('hi'), max_tokens: 100_000 },
      400,
      { code: 'context_length_exceeded', param: 'max_tokens' },
    ],
    ['max_tokens not an integer', { ...user('hi'), max_tokens: 2.5 }, 400, { param: 'max_tokens' }],
    ['temperature out of range', { ...user('hi'), temperature: 3 }, 400, { param: 'temperature' }],
    ['n = 2', { ...user('hi'), n: 2 }, 400, { param: 'n' }],
    ['tools', { ...user('hi'), tools: [{ type: 'function', function: { name: 'f' } }] }, 400, { param: 'tools' }],
    ['JSON mode', { ...user('hi'), response_format: { type: 'json_object' } }, 400, { param: 'response_format' }],
    ['a tool role', { model: MODEL, messages: [{ role: 'tool', content: 'x' }] }, 400, { param: 'messages[0].role' }],
    [
      'a remote image without --allow-remote-images',
      user([image('https://example.com/cat.png')]),
      400,
      { code: 'remote_images_disabled' },
    ],
  ];
  for (const [what, body, status, fields] of cases) {
    const r = await post(url, body);
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.error.message, 'string', what);
    for (const key of ['type', 'param', 'code']) assert.ok(key in r.json.error, `${what}: error.${key}`);
    for (const [k, v] of Object.entries(fields)) assert.equal(r.json.error[k], v, `${what}: error.${k}`);
  }
  const wrongMethod = await fetch(url);
  assert.equal(wrongMethod.status, 405);
  assert.equal(((await wrongMethod.json()) as { error: { code: string } }).error.code, 'method_not_allowed');
  assert.equal((await fetch(`${main.url}/v1/nothing`)).status, 404);
  // The SDK sees the status as its error class.
  await assert.rejects(
    openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    (err: unknown) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found',
  );
  const ok = await openai.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 2,
  });
  assert.equal(ok.choices.length, 1);
});

test('with --allow-remote-images, URLs to private, loopback and link-local hosts are refused', async () => {
  const remote = await serve(context(), { remoteImages: { allow: true, timeoutMs: 2000 } });
  for (const target of [
    `${main.url}/health`, // loopback, where this very server listens
    'http://localhost:9/x.png',
    'http://10.1.2.3/x.png',
    'http://192.168.0.1/x.png',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]:9/x.png',
    'http://[fe80::1]/x.png',
    'http://[::ffff:127.0.0.1]/x.png',
    'http://0.0.0.0/x.png',
  ]) {
    const r = await post(`${remote.url}/v1/chat/completions`, {
      model: MODEL,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: target } }] }],
    });
    assert.equal(r.status, 400, target);
    assert.equal(r.json.error.code, 'image_url_refused', `${target}: ${JSON.stringify(r.json)}`);
  }
  const ftp = await post(`${remote.url}/v1/chat/completions`, {
    model: MODEL,
    messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://example.com/x.png' } }] }],
  });
  assert.equal(ftp.status, 400);
});

test('Ollama client: /api/chat streams NDJSON with base64 images, /api/generate answers whole, /api/tags lists', async () => {
  const ollama = new Ollama({ host: main.url });
  const want = await expected(imageQuestion('Describe it'), [png], 10);
  const stream = await ollama.chat({
    model: MODEL,
    messages: [{ role: 'user', content: 'Describe it', images: [png.toString('base64')] }],
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

  const wantText = await expected([{ role: 'user', content: 'Why is the sky blue?' }], [], 6);
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
  const bad = await fetch(`${main.url}/api/generate`, {
    method: 'POST',
    body: JSON.stringify({ model: MODEL, prompt: 'x', images: ['!!!'] }),
  });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /images\[0\] is not base64/);
  const broken = await fetch(`${main.url}/api/chat`, { method: 'POST', body: '{' });
  assert.equal(broken.status, 400);
  assert.equal(typeof ((await broken.json()) as { error: string }).error, 'string');
});

test('concurrent HTTP requests share decode steps and each gets its own greedy reply', async () => {
  const ctx = context();
  const s = await serve(ctx);
  const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const questions = ['First question', 'A second, longer question here', 'Third', 'And the fourth one'];
  const want = await Promise.all(questions.map((q) => expected([{ role: 'user', content: q }], [], 14)));
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

/** Records every engine result of a context, so a test can see how a generation ended. */
function recordResults(ctx: ServeContext): Promise<EngineResult>[] {
  const results: Promise<EngineResult>[] = [];
  const submit = ctx.engine.submit.bind(ctx.engine);
  ctx.engine.submit = (r) => {
    const p = submit(r);
    p.catch(() => {}); // refusals (429) are the server's to answer; only how accepted ones end is looked at
    results.push(p);
    return p;
  };
  return results;
}

test('a client that disconnects mid-stream cancels its generation at the next step', async () => {
  const ctx = context();
  const s = await serve(ctx);
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
  const ctx = context({ maxBatch: 1, maxQueue: 0 });
  const s = await serve(ctx);
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
