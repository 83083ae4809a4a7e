// Data parallel on c10d's Reducer, and ZeRO stages 1 and 2: two processes on loopback, each on half of every global batch,
// give the losses and final parameters of one process on the whole batch, with and without
// gradient accumulation (tiny-training.ts runs both sides; the reference uses no distributed code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '../../src/io/tensors.js';
import { runRanks } from './helpers.js';
import { trainTinyLlama } from './tiny-training.js';
import { maxAbsDiff } from '../helpers/golden.js';

for (const mode of ['ddp', 'zero1', 'zero2'])
  for (const ga of [1, 2]) {
    test(`${mode}: 2 ranks give one process's losses and parameters (<= 1e-5), gradient accumulation ${ga}`, async () => {
      const single = mkdtempSync(join(tmpdir(), 'llava-dp-single-'));
      try {
        const losses = await trainTinyLlama({ ga, out: single });
        const reference = openSafetensors(join(single, 'model.safetensors'));
        await runRanks(mode, 2, { LLAVA_TEST_GA: String(ga) }, (dir) => {
          const trained = openSafetensors(join(dir, 'model.safetensors'));
          assert.deepEqual(trained.names().sort(), reference.names().sort());
          for (const name of reference.names()) {
            const diff = maxAbsDiff(trained.readTensor(name), reference.readTensor(name));
            assert.ok(diff <= 1e-5, `${name}: ${diff}`);
          }
        }).then(({ reports, launchError }) => {
          assert.equal(launchError, undefined, String(launchError?.message) + JSON.stringify(reports));
          for (const report of reports) {
            const distributed = report!.result as number[];
            assert.equal(distributed.length, losses.length);
            distributed.forEach((l, i) =>
              assert.ok(Math.abs(l - losses[i]!) <= 1e-5, `step ${i}: ${l} vs ${losses[i]}`),
            );
          }
        });
      } finally {
        rmSync(single, { recursive: true, force: true });
      }
    });
  }
