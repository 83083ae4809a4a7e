import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { requestKey, ResponseCache, type Completion } from '../../src/datagen/index.js';

const messages = [
  { role: 'system' as const, content: 's' },
  { role: 'user' as const, content: 'u' },
];

test('the cache key is the request content: field order does not matter, every setting does', () => {
  const key = requestKey({ model: 'm', messages, temperature: 0.2 });
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(requestKey({ temperature: 0.2, messages, model: 'm' }), key);
  assert.equal(
    requestKey({ model: 'm', messages: messages.map((m) => ({ content: m.content, role: m.role })), temperature: 0.2 }),
    key,
  );
  for (const other of [
    { model: 'm2', messages, temperature: 0.2 },
    { model: 'm', messages, temperature: 0.3 },
    { model: 'm', messages },
    { model: 'm', messages, temperature: 0.2, max_tokens: 10 },
    { model: 'm', messages: messages.slice(1), temperature: 0.2 },
  ])
    assert.notEqual(requestKey(other), key, JSON.stringify(other));
});

test('cache entries round-trip; a file cut short by a kill reads as a miss', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'datagen-cache-'));
  const cache = new ResponseCache(dir);
  const key = requestKey({ model: 'm', messages });
  const completion: Completion = {
    content: 'Question:\nQ?\n===\nAnswer:\nA',
    finishReason: 'stop',
    refusal: null,
    usage: { promptTokens: 3, completionTokens: 4 },
  };
  assert.equal(await cache.get(key), undefined);
  await cache.put(key, completion);
  assert.deepEqual(await cache.get(key), completion);
  assert.deepEqual(await readdir(join(dir, key.slice(0, 2))), [`${key}.json`]);
  await writeFile(join(dir, key.slice(0, 2), `${key}.json`), JSON.stringify(completion).slice(0, 30));
  assert.equal(await cache.get(key), undefined);
});
