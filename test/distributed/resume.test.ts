// Resuming at another world size: a one-process run stopped after 2 of 3 steps continues on 2
// ZeRO-2 ranks, and a 2-rank ZeRO-1 run stopped after 2 steps continues in one process; both end
// at the uninterrupted one-process run's parameters and last loss (<= 1e-5). The optimizer state
// saved from ZeRO is AdamW.stateDict's per-parameter layout, gathered from the shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '../../src/io/tensors.js';
import { runRanks } from './helpers.js';
import { trainTinyLlama } from './tiny-training.js';
import { maxAbsDiff } from '../helpers/golden.js';

function assertSameModel(dir: string, reference: string): void {
  const a = openSafetensors(join(dir, 'model.safetensors'));
  const b = openSafetensors(join(reference, 'model.safetensors'));
  for (const name of b.names()) {
    const diff = maxAbsDiff(a.readTensor(name), b.readTensor(name));
    assert.ok(diff <= 1e-5, `${name}: ${diff}`);
  }
}

test('a run resumes exactly at another world size, from one process to 2 ZeRO-2 ranks and back from ZeRO-1', async () => {
  const dirs = ['full', 'first', 'last'].map((n) => mkdtempSync(join(tmpdir(), `llava-resume-${n}-`)));
  const [full, first, last] = dirs as [string, string, string];
  try {
    const uninterrupted = await trainTinyLlama({ ga: 1, out: full });
    await trainTinyLlama({ ga: 1, out: first, steps: [0, 2], saveOptimizer: true });

    const onTwo = await runRanks(
      'zero2',
      2,
      { LLAVA_TEST_GA: '1', LLAVA_TEST_STEPS: '2,3', LLAVA_TEST_RESUME: first },
      (dir) => assertSameModel(dir, full),
    );
    assert.equal(onTwo.launchError, undefined, String(onTwo.launchError?.message) + JSON.stringify(onTwo.reports));
    const lastLoss = (onTwo.reports[0]!.result as { losses: number[] }).losses;
    assert.equal(lastLoss.length, 1);
    assert.ok(Math.abs(lastLoss[0]! - uninterrupted.losses[2]!) <= 1e-5);

    const fromTwo = await runRanks(
      'zero1',
      2,
      { LLAVA_TEST_GA: '1', LLAVA_TEST_STEPS: '0,2', LLAVA_TEST_SAVE_OPTIMIZER: '1' },
      async (dir) => {
        const { losses } = await trainTinyLlama({ ga: 1, out: last, steps: [2, 3], resume: dir });
        assert.ok(Math.abs(losses[0]! - uninterrupted.losses[2]!) <= 1e-5);
        assertSameModel(last, full);
      },
    );
    assert.equal(
      fromTwo.launchError,
      undefined,
      String(fromTwo.launchError?.message) + JSON.stringify(fromTwo.reports),
    );
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
