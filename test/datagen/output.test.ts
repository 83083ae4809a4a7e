import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { OutputStore, type InstructionRecord } from '../../src/datagen/index.js';
import { tempDir } from './tmp.js';

const tmp = () => tempDir('out');
const record = (i: number): InstructionRecord => ({
  id: String(i).padStart(12, '0'),
  image: `${i}.jpg`,
  conversations: [
    { from: 'human', value: '<image>\nQ?' },
    { from: 'gpt', value: `answer ${i} ${'x'.repeat(200)}` },
  ],
});

test('resume reads files larger than its read chunk, lines split across chunks', async () => {
  const dir = await tmp();
  const n = 40_000; // ~10 MB, more than the 8 MB chunk
  await writeFile(
    join(dir, 'conversation.jsonl'),
    Array.from({ length: n }, (_, i) => `${JSON.stringify(record(i))}\n`).join(''),
  );
  const store = OutputStore.open(dir, {});
  assert.equal(store.resumedRecords, n);
  assert.equal(store.done.size, n);
  assert.ok(store.done.has(`conversation\t${record(n - 1).id}`));
  assert.equal(store.duplicateOf('conversation', { ...record(7), id: 'other' }), record(7).id);
  store.close();
});

test('a torn last line is cut off; a corrupt line elsewhere stops the resume with its place', async () => {
  const dir = await tmp();
  const good = `${JSON.stringify(record(1))}\n`;
  await writeFile(join(dir, 'detail_description.jsonl'), `${good}{"id": "0000000`);
  await writeFile(
    join(dir, 'rejects.jsonl'),
    `${JSON.stringify({ type: 'conversation', id: '5', reason: 'refusal', detail: '' })}\n{"type": "conv`,
  );
  const store = OutputStore.open(dir, {});
  store.close();
  assert.equal(await readFile(join(dir, 'detail_description.jsonl'), 'utf8'), good);
  assert.deepEqual([...store.done].sort(), ['conversation\t5', `detail_description\t${record(1).id}`]);

  await writeFile(join(dir, 'complex_reasoning.jsonl'), `${good}not json\n${good}`);
  assert.throws(
    () => OutputStore.open(dir, {}),
    /complex_reasoning\.jsonl:2: corrupt line in the output of an earlier run/,
  );
});

test('settings: a changed one is refused, new ones are merged into run.json', async () => {
  const dir = await tmp();
  OutputStore.open(dir, { model: 'a', 'prompts_sha256.conversation': 'h1' }).close();
  OutputStore.open(dir, { model: 'a', 'prompts_sha256.detail_description': 'h2' }).close();
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')), {
    model: 'a',
    'prompts_sha256.conversation': 'h1',
    'prompts_sha256.detail_description': 'h2',
  });
  assert.throws(() => OutputStore.open(dir, { model: 'b' }), /was started with other settings \(model: "a" -> "b"\)/);
});

test('one folder, one writer: a live run holds it, a lock left by a killed run is taken over', async () => {
  const dir = await tmp();
  const store = OutputStore.open(dir, {});
  assert.equal(await readFile(join(dir, '.lock'), 'utf8'), String(process.pid));
  assert.throws(
    () => OutputStore.open(dir, {}),
    new RegExp(`is being written by another run \\(pid ${process.pid}\\)`),
  );
  store.close();
  // A pid that cannot be alive: the lock of a process gone without cleaning up (kill -9).
  await writeFile(join(dir, '.lock'), '2147483646');
  OutputStore.open(dir, {}).close();
  assert.throws(() => readFileSync(join(dir, '.lock')), /ENOENT/);
});
