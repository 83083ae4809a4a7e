// What a Trainer step holds at its peak, measured in a child process on a model whose float32 logits [B, T, V]
// dwarf everything else: backward needs the saved log-probabilities and, in turn, their gradient and the logits'
// gradient: about 3 logits' worth. The logits themselves are not needed once the loss exists; holding them, and
// a shifted copy of them for cross-entropy, until the step ended made 5.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

test('a stage-1 step frees the logits before backward: its peak stays under 4 × the logits', () => {
  const child = join(dirname(fileURLToPath(import.meta.url)), 'step-memory-child.js');
  const r = spawnSync(process.execPath, [child, 'run'], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  const { added, logits } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { added: number; logits: number };
  assert.ok(
    added < 4 * logits,
    `the step added ${(added / 2 ** 20).toFixed(0)} MiB, the logits are ${(logits / 2 ** 20).toFixed(0)} MiB`,
  );
});
