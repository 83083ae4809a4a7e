// Every datagen test removes what it writes. The other datagen test files run in a child process
// whose temp dir (TMPDIR) is a fresh folder of this test's, so that other processes' files do not
// count: listed before and after, it must hold nothing new (nothing at all) when they are done.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const HERE = resolve('dist/test/datagen');

test('the datagen tests leave nothing in the temp dir', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'datagen-cleanup-'));
  try {
    const files = (await readdir(HERE)).filter((n) => n.endsWith('.test.js') && n !== 'cleanup.test.js');
    assert.ok(files.length >= 8, `found the datagen test files (${files.join(', ')})`);
    const before = await readdir(tmp);
    // NODE_TEST_CONTEXT (set by the runner running this file) would make the child report to us
    // instead of running its own tests.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', ...files.map((n) => join(HERE, n))], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, TMPDIR: tmp },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    assert.equal(code, 0, `the datagen tests passed in the child:\n${output.slice(-3000)}`);
    const passed = Number(/^# pass (\d+)$/m.exec(output)?.[1]);
    assert.ok(passed >= 50, `the child ran the datagen tests (${passed} passed)`);
    assert.deepEqual(await readdir(tmp), before, 'left behind in the temp dir');
    assert.deepEqual(before, []);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
