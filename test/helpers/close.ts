import assert from 'node:assert/strict';
import type { Tensor } from '../../src/torch/index.js';

/** Asserts t has `shape` and elements within atol + rtol·|expected| of `expected` (row-major). */
export function assertTensorClose(
  t: Tensor,
  expected: ArrayLike<number>,
  shape: number[],
  tol: { atol?: number; rtol?: number } = {},
): void {
  assert.deepEqual(t.shape, shape, `shape [${t.shape}] != [${shape}]`);
  const actual = Array.from(t.toTypedArray() as ArrayLike<number>, Number);
  assertArrayClose(actual, expected, tol);
}

export function assertArrayClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-6, rtol = 1e-5 } = {},
): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!,
      e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    assert.ok(
      Math.abs(a - e) <= atol + rtol * Math.abs(e),
      `element ${i}: ${a} != ${e} (atol ${atol}, rtol ${rtol})\nactual:   [${Array.from(actual).slice(0, 12)}]\nexpected: [${Array.from(expected).slice(0, 12)}]`,
    );
  }
}
