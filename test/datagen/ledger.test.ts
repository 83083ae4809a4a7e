import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ledger } from '../../src/datagen/index.js';
import { tempDir } from './tmp.js';

test('the ledger adds up every run; a torn last line (kill mid-write) is cut off', async () => {
  const dir = await tempDir('ledger');
  const first = Ledger.open(dir);
  first.send();
  first.retry('429');
  first.send();
  first.reply({ promptTokens: 10, completionTokens: 5 });
  first.send(); // in flight when the run was killed: no outcome
  first.close();
  const second = Ledger.open(dir);
  assert.equal(second.runs, 2);
  second.send();
  second.reply(null);
  second.send();
  second.failed('http 400');
  assert.deepEqual(second.run, {
    attempts: 2,
    successes: 1,
    failed: 1,
    retries: { '429': 0, '5xx': 0, '408/409': 0, timeout: 0, network: 0, malformed: 0 },
    without_usage: 1,
    usage: { promptTokens: 0, completionTokens: 0 },
  });
  assert.deepEqual(second.total, {
    attempts: 5,
    successes: 2,
    failed: 1,
    retries: { '429': 1, '5xx': 0, '408/409': 0, timeout: 0, network: 0, malformed: 0 },
    without_usage: 1,
    usage: { promptTokens: 10, completionTokens: 5 },
  });
  second.close();

  const path = join(dir, 'ledger.jsonl');
  const text = await readFile(path, 'utf8');
  await writeFile(path, `${text}{"e":"se`);
  const third = Ledger.open(dir);
  assert.equal(third.total.attempts, 5);
  third.close();
  assert.equal(await readFile(path, 'utf8'), `${text}{"e":"run"}\n`, 'the torn line is gone');

  const lines = text.split('\n');
  await writeFile(path, [...lines.slice(0, 2), '{"e":"retry","cause":"teapot"}', ...lines.slice(2)].join('\n'));
  assert.throws(() => Ledger.open(dir), /ledger\.jsonl:3: corrupt line in the ledger of earlier runs/);
});
