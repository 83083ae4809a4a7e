// `llava serve`'s OpenAI routes over real HTTP on loopback, driven by the official openai SDK unchanged and by raw
// fetch for what the SDK never sends (malformed JSON, oversized bodies, bad parts): every answer in OpenAI's shapes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { rawImage } from '../helpers/text-images.js';
import { expected, imageQuestion, MODEL, post, serverFixture, type Fixture } from './server-fixture.js';

let f: Fixture;
before(async () => {
  f = await serverFixture();
});
after(() => f.close());

test('OpenAI SDK: a text chat completion is the greedy reply, with usage counted', async () => {
  const want = await expected(f, [{ role: 'user', content: 'Hello there' }], [], 12);
  const r = await f.openai.chat.completions.create({
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
  const want = await expected(f, imageQuestion('What is in the picture?'), [f.png], 16);
  const stream = await f.openai.chat.completions.create({
    model: MODEL,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: f.dataUrl } },
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
  const raw = await fetch(`${f.main.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, stream: true }),
  });
  assert.equal(raw.headers.get('content-type'), 'text/event-stream');
  assert.ok((await raw.text()).endsWith('data: [DONE]\n\n'));
});

test('OpenAI SDK: stop strings cut the reply; a seed makes sampling repeat', async () => {
  const want = await expected(f, [{ role: 'user', content: 'Say something' }], [], 24);
  const words = want.text.trim().split(/\s+/);
  assert.ok(words.length >= 3, `premise: a reply of several words (${JSON.stringify(want.text)})`);
  const stop = words[2]!;
  const r = await f.openai.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'Say something' }],
    temperature: 0,
    max_tokens: 24,
    stop: [stop],
  });
  assert.equal(r.choices[0]!.message.content, want.text.slice(0, want.text.indexOf(stop)));
  assert.equal(r.choices[0]!.finish_reason, 'stop');
  const sampled = () =>
    f.openai.chat.completions.create({
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
  const models = await f.openai.models.list();
  assert.equal(models.data.length, 1);
  const m = models.data[0] as unknown as { id: string; input_modalities: string[] };
  assert.equal(m.id, MODEL);
  assert.deepEqual(m.input_modalities, ['text', 'image']);
  assert.equal((await f.openai.models.retrieve(MODEL)).id, MODEL);
  const health = (await (await fetch(`${f.main.url}/health`)).json()) as { status: string };
  assert.equal(health.status, 'ok');
});

test('bad input of every kind is an OpenAI-style error with the right status, and the server keeps serving', async () => {
  const url = `${f.main.url}/v1/chat/completions`;
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
      user([image(f.dataUrl), image(f.dataUrl), image(f.dataUrl), { type: 'text', text: 'hi' }]),
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
  assert.equal((await fetch(`${f.main.url}/v1/nothing`)).status, 404);
  // The SDK sees the status as its error class.
  await assert.rejects(
    f.openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    (err: unknown) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found',
  );
  const ok = await f.openai.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 2,
  });
  assert.equal(ok.choices.length, 1);
});

test('with --allow-remote-images, URLs to private, loopback and link-local hosts are refused', async () => {
  const remote = await f.serve({}, { remoteImages: { allow: true, timeoutMs: 2000 } });
  for (const target of [
    `${f.main.url}/health`, // loopback, where this very server listens
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
