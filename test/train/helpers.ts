// The golden training runs (../shared/golden/train_llava_tiny, see its README): the tiny LLaVA, its 8 pre-tokenised
// samples as the fixture batches them (micro-batch k = samples 2k, 2k+1 cut to data.microbatch_length[k], fixed
// order), the frozen-parameter hash of meta.json, and temp folders.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlavaForConditionalGeneration } from '../../src/models/index.js';
import type { Module } from '../../src/nn/index.js';
import type { Tensor } from '../../src/torch/index.js';
import type { MicroBatch, MicroBatchSource, TrainerOptions } from '../../src/train/trainer.js';
import { golden, goldenRoot } from '../helpers/golden.js';

export const train = golden('train_llava_tiny');
export const meta = JSON.parse(readFileSync(join(train.dir, 'meta.json'), 'utf8'));
export const tinyDir = join(goldenRoot, 'llava_tiny');

export const loadTiny = (): LlavaForConditionalGeneration => LlavaForConditionalGeneration.fromPretrained(tinyDir);

/** The fixture's 4 micro-batches per epoch, in order. */
export function fixtureSource(): MicroBatchSource {
  const ids = train.fixture('data.input_ids');
  const mask = train.fixture('data.attention_mask');
  const labels = train.fixture('data.labels');
  const pixels = train.fixture('data.pixel_values');
  const widths = Array.from(train.fixture('data.microbatch_length').toTypedArray() as BigInt64Array, Number);
  const microBatch = (k: number): MicroBatch => ({
    inputIds: ids
      .narrow(0, 2 * k, 2)
      .narrow(1, 0, widths[k]!)
      .contiguous(),
    attentionMask: mask
      .narrow(0, 2 * k, 2)
      .narrow(1, 0, widths[k]!)
      .contiguous(),
    labels: labels
      .narrow(0, 2 * k, 2)
      .narrow(1, 0, widths[k]!)
      .contiguous(),
    pixelValues: pixels.narrow(0, 2 * k, 2).contiguous(),
  });
  return {
    perEpoch: 4,
    async *epoch(_epoch: number, start: number) {
      for (let k = start; k < 4; k++) yield microBatch(k);
    },
  };
}

/** meta.json's frozen_check rule: sha256 over the frozen parameters sorted by name, utf-8 name then float32 LE bytes. */
export function frozenSha256(named: [string, Tensor][]): string {
  const hash = createHash('sha256');
  for (const [name, t] of [...named].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const a = t.toTypedArray();
    hash.update(Buffer.from(name, 'utf8'));
    hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return hash.digest('hex');
}

export const frozenOf = (model: Module) => model.namedParameters().filter(([, p]) => !p.requiresGrad);

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const floats = (t: { toTypedArray(): unknown }): number[] => Array.from(t.toTypedArray() as Float32Array);

/** The settings common to the golden runs (README: Runs). */
export const goldenOptions = (epochs: number): TrainerOptions => ({
  epochs,
  gradientAccumulationSteps: 2,
  maxGradNorm: 1,
  scheduler: 'cosine',
  warmupRatio: 0.03,
  betas: [0.9, 0.999],
  eps: 1e-8,
  lossScaling: 'mean',
  seed: 0,
  maxNonFiniteSteps: 3,
});
