// The transformers golden fixtures in ../shared/golden (see its README): model folders and their
// fixtures.safetensors of inputs and expected outputs.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import { openSafetensors } from '../../src/io/tensors.js';
import type { Tensor } from '../../src/torch/index.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const goldenRoot = join(repoRoot, '..', 'shared', 'golden');

export function golden(name: string): { dir: string; fixture: (key: string) => Tensor; keys: string[] } {
  const dir = join(goldenRoot, name);
  const reader = openSafetensors(join(dir, 'fixtures.safetensors'));
  return { dir, fixture: (key) => reader.readTensor(key), keys: reader.names() };
}

/** Largest |a - b| over the positions where `mask` [B, T] is 1 (all when no mask); a, b [B, T, ...]. */
export function maxAbsDiff(a: Tensor, b: Tensor, mask?: Tensor): number {
  assert.deepEqual(a.shape, b.shape, `shape [${a.shape}] != [${b.shape}]`);
  const diff = a.to('float64').sub(b.to('float64')).abs();
  if (!mask) return diff.max().item();
  const perPosition = diff.ndim > 2 ? diff.flatten(2).max(2).values : diff; // [B, T]
  return perPosition.maskedFill(mask.eq(0), 0).max().item();
}

export const ids = (t: Tensor): number[] => Array.from(t.toTypedArray() as BigInt64Array, Number);
