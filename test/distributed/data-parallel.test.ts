// Data parallel on c10d's Reducer, and ZeRO stages 1 and 2: two processes on loopback, each on
// half of every global batch, give the losses, gradient norms and final parameters of one process
// on the whole batch, with and without gradient accumulation and clipping (tiny-training.ts runs
// both sides; the reference uses no distributed code). In float64: the two sides sum the same gradients in another
// order (other micro-batch shapes, the all-reduce), and AdamW turns float32's rounding of near-zero gradients into
// parameter differences of up to ~1.3e-5 after 3 steps (seen on an AVX-512 machine), which would hide a real error
// of that size; float64's rounding stays ~1e-12.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '../../src/io/tensors.js';
import { runRanks } from './helpers.js';
import { trainTinyLlama } from './tiny-training.js';
import { maxAbsDiff } from '../helpers/golden.js';

type Run = { losses: number[]; norms: number[] };
const CLIP = 0.5; // below the tiny model's gradient norms here (asserted), so clipping takes effect
const cases = ['ddp', 'zero1', 'zero2'].flatMap((mode) => [
  { mode, ga: 1, clip: undefined },
  { mode, ga: 2, clip: undefined },
  { mode, ga: 2, clip: CLIP },
]);

for (const { mode, ga, clip } of cases) {
  const label = `gradient accumulation ${ga}${clip ? `, gradients clipped to norm ${clip}` : ''}`;
  test(`${mode}: 2 ranks give one process's losses and parameters (<= 1e-5), ${label}`, async () => {
    const single = mkdtempSync(join(tmpdir(), 'llava-dp-single-'));
    try {
      const expected = await trainTinyLlama({ ga, clip, out: single, dtype: 'float64' });
      if (clip)
        assert.ok(
          expected.norms.every((n) => n > clip),
          `norms ${expected.norms}`,
        );
      const reference = openSafetensors(join(single, 'model.safetensors'));
      const env = {
        LLAVA_TEST_GA: String(ga),
        LLAVA_TEST_DTYPE: 'float64',
        ...(clip ? { LLAVA_TEST_CLIP: String(clip) } : {}),
      };
      const { reports, launchError } = await runRanks(mode, 2, env, (dir) => {
        const trained = openSafetensors(join(dir, 'model.safetensors'));
        assert.deepEqual(trained.names().sort(), reference.names().sort());
        for (const name of reference.names()) {
          const diff = maxAbsDiff(trained.readTensor(name), reference.readTensor(name));
          assert.ok(diff <= 1e-5, `${name}: ${diff}`);
        }
      });
      assert.equal(launchError, undefined, String(launchError?.message) + JSON.stringify(reports));
      for (const report of reports) {
        const run = report!.result as Run;
        assert.equal(run.losses.length, expected.losses.length);
        run.losses.forEach((l, i) =>
          assert.ok(Math.abs(l - expected.losses[i]!) <= 1e-5, `step ${i}: ${l} vs ${expected.losses[i]}`),
        );
        assert.equal(run.norms.length, expected.norms.length);
        run.norms.forEach((n, i) =>
          assert.ok(
            Math.abs(n - expected.norms[i]!) <= 1e-5 * expected.norms[i]!,
            `norm ${i}: ${n} vs ${expected.norms[i]}`,
          ),
        );
      }
    } finally {
      rmSync(single, { recursive: true, force: true });
    }
  });
}
