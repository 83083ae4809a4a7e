// The addon's one-pass LLaMA layer operators with their own backward (native/rms_norm.cc, native/rotary.cc,
// native/silu_mul.cc) against the same formulas computed here in float64 from plain operators: outputs and every
// input's gradient, row counts across the kernels' blocks, widths that are not multiples of the vector width,
// strided inputs, broadcast position tables, one input without gradient, extreme gate values; and a repeated
// backward that must be bitwise the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { setNumThreads } from '../../src/torch/runtime.js';
import { f64, relativeError } from '../helpers/attention-reference.js';

const leaf = (t: T.Tensor) => t.detach().requiresGrad_();

/** Backward of sum(out · upstream) for ours (float32) and the reference (float64 copies of the same leaves). */
function compare(
  name: string,
  ours: (xs: T.Tensor[]) => T.Tensor,
  reference: (xs: T.Tensor[]) => T.Tensor,
  inputs: T.Tensor[],
  withGrad: boolean[],
  tolerance: number,
): void {
  T.scope(() => {
    const xs = inputs.map((t, i) => (withGrad[i] ? leaf(t) : t));
    const xs64 = inputs.map((t, i) => (withGrad[i] ? leaf(f64(t)) : f64(t)));
    const out = ours(xs);
    const expected = reference(xs64);
    assert.deepEqual(out.shape, expected.shape, name);
    assert.equal(out.dtype, 'float32', name);
    assert.ok(relativeError(out, expected) < tolerance, `${name}: output ${relativeError(out, expected)}`);
    const upstream = T.randn(out.shape);
    out.mul(upstream).sum().backward();
    expected.mul(f64(upstream)).sum().backward();
    xs.forEach((x, i) => {
      if (!withGrad[i]) return;
      const error = relativeError(x.grad!, xs64[i]!.grad!);
      assert.ok(error < tolerance, `${name}: gradient of input ${i}: ${error}`);
    });
  });
}

const rmsReference = ([x, w]: T.Tensor[]) => x!.div(x!.pow(2).mean(-1, true).add(1e-6).sqrt()).mul(w!);

test('rms_norm: output, input and weight gradients equal the float64 formula across row blocks and widths', () => {
  T.manualSeed(11);
  // 1 row; 33 and 70 rows span the kernel's 32-row blocks; width 37 leaves a tail after every vector width.
  for (const shape of [
    [1, 8],
    [33, 37],
    [2, 35, 37],
    [2, 40, 640],
  ])
    for (const withGrad of [
      [true, true],
      [false, true],
      [true, false],
    ])
      compare(
        `rms_norm ${shape} grads ${withGrad}`,
        ([x, w]) => T.rmsNorm(x!, w!, 1e-6),
        rmsReference,
        [T.randn(shape), T.randn([shape.at(-1)!])],
        withGrad,
        1e-5,
      );
});

test('rms_norm: a non-contiguous input (a transposed view) is read as its values', () => {
  T.manualSeed(12);
  const x = T.randn([16, 3, 24]).transpose(0, 1); // [3, 16, 24], strided
  compare(
    'rms_norm strided',
    ([a, w]) => T.rmsNorm(a!, w!, 1e-6),
    rmsReference,
    [x, T.randn([24])],
    [true, true],
    1e-5,
  );
});

test("rms_norm's backward is bitwise repeatable, and its weight gradient does not depend on the thread count", () => {
  T.manualSeed(13);
  const x = leaf(T.randn([3, 100, 64]));
  const w = leaf(T.randn([64]));
  const upstream = T.randn([3, 100, 64]);
  const run = (threads: number) => {
    const before = setNumThreads(threads);
    try {
      const [gx, gw] = T.grad([T.rmsNorm(x, w, 1e-5)], [x, w], { gradOutputs: [upstream] });
      return [gx!.toTypedArray(), gw!.toTypedArray()];
    } finally {
      setNumThreads(before);
    }
  };
  const first = run(2);
  assert.deepEqual(run(2), first);
  assert.deepEqual(run(1)[1], first[1]);
});

const rotaryReference = ([x, cos, sin]: T.Tensor[]) => {
  const half = x!.shape.at(-1)! / 2;
  const rotated = T.cat([x!.narrow(-1, half, half).neg(), x!.narrow(-1, 0, half)], -1);
  return x!.mul(cos!.unsqueeze(1)).add(rotated.mul(sin!.unsqueeze(1)));
};

test('apply_rotary: output and gradient equal the float64 formula for strided heads and broadcast tables', () => {
  T.manualSeed(14);
  // q as the attention makes it: [B, T, H, d] projections viewed as [B, H, T, d]; tables [1, T, d] (one position
  // list for the batch) and [B, T, d]; d = 6 is under every vector width, 128 a LLaMA head.
  for (const [B, H, Tn, d, tableBatch] of [
    [2, 3, 5, 6, 1],
    [2, 4, 9, 128, 2],
    [1, 2, 70, 64, 1],
  ] as const) {
    const x = T.randn([B, Tn, H, d]).transpose(1, 2);
    const cos = T.randn([tableBatch, Tn, d]);
    const sin = T.randn([tableBatch, Tn, d]);
    compare(
      `apply_rotary B${B} H${H} T${Tn} d${d} tables of ${tableBatch}`,
      ([a, c, s]) => T.applyRotary(a!, c!, s!),
      ([a, c, s]) => rotaryReference([a!, c!.expand(B, Tn, d), s!.expand(B, Tn, d)]),
      [x, cos, sin],
      [true, false, false],
      1e-6,
    );
  }
});

const siluMulReference = ([g, u]: T.Tensor[]) => g!.div(g!.neg().exp().add(1)).mul(u!);

test('silu_mul: output and both gradients equal the float64 formula, extreme gates included', () => {
  T.manualSeed(15);
  for (const shape of [[7], [2, 33, 1728]])
    for (const withGrad of [
      [true, true],
      [true, false],
      [false, true],
    ])
      compare(
        `silu_mul ${shape} grads ${withGrad}`,
        ([g, u]) => T.siluMul(g!, u!),
        siluMulReference,
        [T.randn(shape).mul(4), T.randn(shape)],
        withGrad,
        1e-6,
      );
  // e^-g past float32's range both ways (the clamp inside the kernel's exp), and around zero.
  const gate = T.tensor(Float32Array.from([-100, -88, -20, -1e-8, 0, 1e-8, 20, 88, 100]), [9]);
  compare(
    'silu_mul extremes',
    ([g, u]) => T.siluMul(g!, u!),
    siluMulReference,
    [gate, T.ones([9])],
    [true, true],
    1e-6,
  );
  // Where float64's formula itself overflows (e^1000): σ saturates to 0 and 1, no NaN.
  const far = leaf(T.tensor(Float32Array.from([-1000, 1000]), [2]));
  const out = T.siluMul(far, T.ones([2]));
  out.sum().backward();
  const [y0, y1] = out.toTypedArray() as Float32Array;
  const [d0, d1] = far.grad!.toTypedArray() as Float32Array;
  assert.ok(Math.abs(y0!) < 1e-30 && y1 === 1000, `outputs ${y0}, ${y1}`);
  assert.ok(Math.abs(d0!) < 1e-30 && d1 === 1, `gradients ${d0}, ${d1}`);
});

test('silu_mul, apply_rotary and rms_norm keep the formula in other dtypes (bf16: the operators, rounded as transformers)', () => {
  T.manualSeed(16);
  T.noGrad(() => {
    const g = T.randn([4, 10]).to('bfloat16');
    const u = T.randn([4, 10]).to('bfloat16');
    assert.deepEqual(T.siluMul(g, u).toTypedArray(), T.silu(g).mul(u).toTypedArray());
    const x = T.randn([4, 10]).to('bfloat16');
    const w = T.randn([10]).to('bfloat16');
    const x32 = x.to('float32');
    const normed = x32.mul(x32.pow(2).mean(-1, true).add(1e-6).rsqrt()).to('bfloat16');
    assert.deepEqual(T.rmsNorm(x, w, 1e-6).toTypedArray(), w.mul(normed).toTypedArray());
  });
});
