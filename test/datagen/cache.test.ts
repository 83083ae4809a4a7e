import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { requestKey, ResponseCache, type Completion } from '../../src/datagen/index.js';
import { tempDir } from './tmp.js';

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

const key = (i: number) => requestKey({ model: 'm', messages: [{ role: 'user', content: `request ${i}` }] });
const completion = (i: number): Completion => ({
  content: `Question:\nQ${i}?\n===\nAnswer:\nA${i}`,
  finishReason: 'stop',
  refusal: null,
  usage: { promptTokens: 3 + i, completionTokens: 4 },
});
const logOf = (dir: string) => join(dir, 'responses.log');

test('a hit returns the reply byte for byte, after the cache is closed and opened again', async () => {
  const dir = await tempDir('cache');
  // Newlines, quotes, backslashes, U+2028, astral and non-ASCII characters, a lone surrogate, NUL.
  const tricky: Completion = {
    content: 'line 1\nline "2"\\\u2028 caf\u00e9 \u{1f6b2} \ud800 \u0000 end',
    finishReason: 'length',
    refusal: 'non\u00e9',
    usage: null,
  };
  const cache = ResponseCache.open(dir);
  assert.equal(await cache.get(key(0)), undefined);
  cache.put(key(0), tricky);
  cache.put(key(1), completion(1));
  assert.deepEqual(await cache.get(key(0)), tricky);
  cache.close();

  const reopened = ResponseCache.open(dir);
  assert.equal(reopened.entries, 2);
  const hit = (await reopened.get(key(0)))!;
  assert.deepEqual(hit, tricky);
  assert.equal(Buffer.compare(Buffer.from(hit.content, 'utf16le'), Buffer.from(tricky.content, 'utf16le')), 0);
  assert.deepEqual(await reopened.get(key(1)), completion(1));
  reopened.close();

  // One file; each line is "<key> <crc32 of key and JSON, 8 hex> <JSON>".
  assert.deepEqual((await readdir(dir)).sort(), ['responses.log']);
  const lines = (await readFile(logOf(dir), 'utf8')).split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[2], '');
  const [k, crc, ...rest] = lines[1]!.split(' ');
  const json = rest.join(' ');
  assert.equal(k, key(1));
  assert.deepEqual(JSON.parse(json), completion(1));
  assert.equal(
    crc,
    crc32(Buffer.from(`${k}${json}`))
      .toString(16)
      .padStart(8, '0'),
  );
});

test('a torn last entry (kill mid-write) is ignored and cut off; a damaged entry is skipped; appends after them read back', async () => {
  const dir = await tempDir('cache');
  const cache = ResponseCache.open(dir);
  for (let i = 0; i < 3; i++) cache.put(key(i), completion(i));
  cache.close();
  const whole = await readFile(logOf(dir));
  const lines = whole.toString('utf8').split('\n');

  // A kill in the middle of writing entry 3: part of its line, no newline.
  const reopenAfter = ResponseCache.open(dir);
  reopenAfter.put(key(3), completion(3));
  reopenAfter.close();
  const withFour = await readFile(logOf(dir), 'utf8');
  await writeFile(logOf(dir), withFour.slice(0, whole.length + 100));
  const torn = ResponseCache.open(dir);
  assert.equal(torn.entries, 3);
  assert.equal(torn.corruptLines, 0);
  assert.equal(await torn.get(key(3)), undefined);
  assert.equal((await stat(logOf(dir))).size, whole.length, 'the torn tail is cut');
  torn.put(key(4), completion(4));
  torn.close();
  const afterTear = ResponseCache.open(dir);
  assert.deepEqual(await afterTear.get(key(4)), completion(4));
  assert.deepEqual(await afterTear.get(key(2)), completion(2));
  afterTear.close();

  // One changed character in entry 1's JSON: its checksum fails, the others still hit.
  const damaged = lines[1]!.replace('A1', 'A7');
  const text = await readFile(logOf(dir), 'utf8');
  await writeFile(logOf(dir), text.replace(lines[1]!, damaged));
  const skipped = ResponseCache.open(dir);
  assert.equal(skipped.corruptLines, 1);
  assert.equal(await skipped.get(key(1)), undefined);
  for (const i of [0, 2, 4]) assert.deepEqual(await skipped.get(key(i)), completion(i));
  skipped.close();
});

test('a cache in the one-file-per-reply layout is moved into the log', async () => {
  const dir = await tempDir('cache');
  // The layout earlier versions wrote: <dir>/<first 2 hex of the key>/<key>.json holding the Completion.
  for (const i of [0, 1, 2]) {
    await mkdir(join(dir, key(i).slice(0, 2)), { recursive: true });
    await writeFile(join(dir, key(i).slice(0, 2), `${key(i)}.json`), JSON.stringify(completion(i)));
  }
  // A file a kill cut short was a miss then and is one now.
  await mkdir(join(dir, key(3).slice(0, 2)), { recursive: true });
  await writeFile(join(dir, key(3).slice(0, 2), `${key(3)}.json`), JSON.stringify(completion(3)).slice(0, 20));
  const cache = ResponseCache.open(dir);
  assert.equal(cache.migrated, 3);
  for (const i of [0, 1, 2]) assert.deepEqual(await cache.get(key(i)), completion(i));
  assert.equal(await cache.get(key(3)), undefined);
  cache.close();
  assert.deepEqual(await readdir(dir), ['responses.log']);
  const again = ResponseCache.open(dir);
  assert.equal(again.migrated, 0);
  assert.equal(again.entries, 3);
  again.close();
});

test('two live runs cannot share a cache folder', async () => {
  const dir = await tempDir('cache');
  const cache = ResponseCache.open(dir);
  assert.throws(() => ResponseCache.open(dir), /is being written by another run \(pid \d+\)/);
  cache.put(key(0), completion(0));
  cache.close();
  const next = ResponseCache.open(dir);
  assert.deepEqual(await next.get(key(0)), completion(0));
  next.close();
});

test('a log larger than the read chunk (8 MB) is indexed at the right offsets', async () => {
  const dir = await tempDir('cache');
  const big = (i: number): Completion => ({ ...completion(i), content: `${i} ${'y'.repeat(2000 + (i % 97))}` });
  const cache = ResponseCache.open(dir);
  for (let i = 0; i < 5000; i++) cache.put(key(i), big(i));
  cache.close();
  assert.ok((await stat(logOf(dir))).size > 8 << 20);
  const reopened = ResponseCache.open(dir);
  assert.equal(reopened.entries, 5000);
  for (let i = 0; i < 5000; i += 7) assert.deepEqual(await reopened.get(key(i)), big(i));
  assert.deepEqual(await reopened.get(key(4999)), big(4999));
  reopened.close();
});
