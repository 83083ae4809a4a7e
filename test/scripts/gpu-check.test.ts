// scripts/gpu-check.mjs is run by hand on GPU machines, so it must fail loudly by itself: here it runs with
// CHECK_DEVICE=cpu over the real golden folder (exit 0) and over a copy whose LLaMA weights were perturbed (exit 1,
// naming the failed checks), so neither the checks nor the exit code can rot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSafetensors, saveSafetensors } from '../../src/io/tensors.js';
import type { Tensor } from '../../src/torch/index.js';
import { goldenRoot } from '../helpers/golden.js';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'scripts', 'gpu-check.mjs');
const runCheck = (golden: string) =>
  spawnSync(process.execPath, [script, golden], { env: { ...process.env, CHECK_DEVICE: 'cpu' }, encoding: 'utf8' });

test('gpu-check passes on the golden fixtures (run on the CPU)', () => {
  const run = runCheck(goldenRoot);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /GPU CHECK PASSED/);
  assert.doesNotMatch(run.stdout, /FAIL/);
});

test('gpu-check exits 1 and names the failed checks when the model disagrees with the fixtures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpu-check-'));
  try {
    for (const name of ['llama_tiny_gqa', 'llava_tiny'])
      cpSync(join(goldenRoot, name), join(dir, name), { recursive: true });
    const weights = join(dir, 'llama_tiny_gqa', 'model.safetensors');
    const reader = openSafetensors(weights);
    const tensors: Record<string, Tensor> = {};
    for (const name of reader.names()) tensors[name] = reader.readTensor(name);
    tensors['model.norm.weight'] = tensors['model.norm.weight']!.mul(1.01);
    saveSafetensors(weights, tensors, { format: 'pt' });
    const run = runCheck(dir);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /FAIL llama_tiny_gqa logits/);
    assert.match(run.stderr, /GPU CHECK FAILED/);
    assert.match(run.stdout, /ok {3}llava_tiny logits/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
