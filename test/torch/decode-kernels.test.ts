// The addon's own decode kernels (native/linear_rows.cc, native/attention.cc), which run outside autograd for up
// to 8 rows, against the same formulas computed here in float64 from plain operators: every row count up to and
// past the kernel's, lengths that are not multiples of the vector width, outputs split across threads, strided
// inputs, bf16, grouped-query heads, broadcast and fully masked rows; and the gradients of their autograd paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { maxAbsDiff } from '../helpers/golden.js';
import { attentionReference, f64, relativeError } from '../helpers/attention-reference.js';

test('linear: 1 to 9 rows, any in/out size, with and without bias, equals the float64 product', () => {
  T.manualSeed(0);
  T.noGrad(() => {
    // out 1000 x in 300 is 1.2 MB of weights: the output rows are split across threads.
    for (const [out, inFeatures] of [
      [1, 1],
      [7, 5],
      [33, 17],
      [300, 67],
      [1000, 300],
    ] as const)
      for (let rows = 1; rows <= 9; rows++)
        T.scope(() => {
          const x = T.randn([rows, 1, inFeatures]);
          const w = T.randn([out, inFeatures]);
          const b = T.randn([out]);
          const expected = f64(x).matmul(f64(w).transpose(0, 1));
          const plain = T.linear(x, w);
          assert.deepEqual(plain.shape, [rows, 1, out]);
          assert.ok(relativeError(plain, expected) < 1e-5, `${rows} x ${inFeatures} -> ${out}`);
          const biased = T.linear(x, w, b);
          assert.ok(relativeError(biased, expected.add(f64(b))) < 1e-5, `${rows} x ${inFeatures} -> ${out}, bias`);
        });
  });
});

test('linear: a strided input and a transposed weight are read as the values they view', () => {
  T.manualSeed(1);
  T.noGrad(() => {
    const x = T.randn([40, 3]).transpose(0, 1); // [3, 40], not contiguous
    const w = T.randn([40, 24]).transpose(0, 1); // [24, 40], not contiguous
    assert.ok(relativeError(T.linear(x, w), f64(x).matmul(f64(w).transpose(0, 1))) < 1e-5);
  });
});

test('linear: bf16 input and weights, rounded once from a float32 accumulation', () => {
  T.manualSeed(2);
  T.noGrad(() => {
    const x = T.randn([4, 200]).to('bfloat16');
    const w = T.randn([130, 200]).to('bfloat16');
    const y = T.linear(x, w);
    assert.equal(y.dtype, 'bfloat16');
    // bf16 keeps 8 significant bits: one rounding of the result is within 2^-8 of its size.
    assert.ok(relativeError(y, f64(x).matmul(f64(w).transpose(0, 1))) < 2 ** -8);
  });
});

test('linear: inside autograd a decode-sized input still records its gradient', () => {
  T.manualSeed(3);
  const x = T.randn([2, 5]);
  const w = T.randn([3, 5]).requiresGrad_();
  const y = T.linear(x, w);
  assert.ok(y.requiresGrad);
  y.sum().backward();
  // d(sum y)/dW[n, k] = sum over rows of x[:, k], for every n.
  assert.ok(maxAbsDiff(w.grad!, x.sum(0, true).expand(3, 5)) < 1e-6);
});

test('linear: mismatched sizes are an error naming the operator and the shapes', () => {
  T.noGrad(() =>
    assert.throws(() => T.linear(T.zeros([1, 3]), T.zeros([4, 2])), /llava::linear.*shapes cannot be multiplied/),
  );
});

test('attention: decode shapes, grouped-query heads, keys in either layout, equal the float64 formula', () => {
  T.manualSeed(4);
  T.noGrad(() => {
    for (const T_ of [1, 3, 8, 9])
      // 9 queries: the operator path
      for (const S of [1, 5, 37])
        T.scope(() => {
          const q = T.randn([2, 4, T_, 16]);
          const v = T.randn([2, 2, S, 16]);
          const mask = T.randn([2, 1, T_, S]);
          // As the KV cache holds them: keys transposed [d, capacity], narrowed to S positions.
          const cachedKeys = T.randn([2, 2, 16, S + 3])
            .narrow(3, 0, S)
            .transpose(2, 3);
          const contiguousKeys = T.randn([2, 2, S, 16]);
          for (const k of [cachedKeys, contiguousKeys]) {
            const out = T.attention(q, k, v, mask);
            assert.deepEqual(out.shape, [2, 4, T_, 16]);
            assert.ok(relativeError(out, attentionReference(q, k, v, mask)) < 1e-5, `T ${T_}, S ${S}`);
          }
          assert.ok(relativeError(T.attention(q, contiguousKeys, v), attentionReference(q, contiguousKeys, v)) < 1e-5);
        });
  });
});

test('attention: a broadcast mask, and a fully masked row stays finite as in transformers', () => {
  T.manualSeed(5);
  T.noGrad(() => {
    const q = T.randn([2, 2, 1, 8]);
    const k = T.randn([2, 2, 6, 8]);
    const v = T.randn([2, 2, 6, 8]);
    const lowest = -3.4028234663852886e38;
    // Row 0 sees positions 2..5; row 1 sees nothing (every score at the dtype's lowest value).
    const blocked = T.tensor(Float32Array.from([1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), [2, 1, 1, 6]).mul(lowest);
    const out = T.attention(q, k, v, blocked);
    const seen = attentionReference(
      q.narrow(0, 0, 1),
      k.narrow(0, 0, 1).narrow(2, 2, 4),
      v.narrow(0, 0, 1).narrow(2, 2, 4),
    );
    assert.ok(relativeError(out.narrow(0, 0, 1), seen) < 1e-5);
    // All scores equal: the mean of the value rows.
    assert.ok(relativeError(out.narrow(0, 1, 1), f64(v.narrow(0, 1, 1)).mean(2, true)) < 1e-5);
    const one = T.zeros([1, 1, 1, 6]).maskedFill(T.arange(0, 6).lt(3).view(1, 1, 1, 6), lowest);
    const broadcast = T.attention(q, k, v, one.expand(2, 1, 1, 6));
    assert.ok(relativeError(broadcast, attentionReference(q, k, v, one)) < 1e-5);
  });
});

test('attention: bf16 within bf16 rounding of the float64 formula', () => {
  T.manualSeed(6);
  T.noGrad(() => {
    const [q, k, v] = [T.randn([1, 4, 1, 32]), T.randn([1, 4, 20, 32]), T.randn([1, 4, 20, 32])].map((t) =>
      t.to('bfloat16'),
    ) as [T.Tensor, T.Tensor, T.Tensor];
    const out = T.attention(q, k, v);
    assert.equal(out.dtype, 'bfloat16');
    // Scores, probabilities and output each rounded to 8 bits.
    assert.ok(relativeError(out, attentionReference(q, k, v)) < 4 * 2 ** -8);
  });
});

test('attention: heads that do not divide, and inputs that are not 4-D, are errors naming the operator', () => {
  T.noGrad(() => {
    assert.throws(
      () => T.attention(T.zeros([1, 3, 1, 4]), T.zeros([1, 2, 5, 4]), T.zeros([1, 2, 5, 4])),
      /llava::attention.*3 query heads are not a multiple of 2 key\/value heads/,
    );
    assert.throws(
      () => T.attention(T.zeros([3, 1, 4]), T.zeros([1, 2, 5, 4]), T.zeros([1, 2, 5, 4])),
      /llava::attention.*must be 4-D/,
    );
  });
});

test('rms_norm and apply_rotary equal their formulas in float64', () => {
  T.manualSeed(7);
  T.noGrad(() => {
    const x = T.randn([2, 3, 10]);
    const w = T.randn([10]);
    const x64 = f64(x);
    const normed = x64.div(x64.pow(2).mean(-1, true).add(1e-5).sqrt()).mul(f64(w));
    assert.ok(relativeError(T.rmsNorm(x, w, 1e-5), normed) < 1e-6);
    const h = T.randn([2, 4, 3, 8]);
    const [cos, sin] = [T.randn([2, 3, 8]), T.randn([2, 3, 8])];
    const h64 = f64(h);
    const rotated = T.cat([h64.narrow(-1, 4, 4).neg(), h64.narrow(-1, 0, 4)], -1);
    const expected = h64.mul(f64(cos).unsqueeze(1)).add(rotated.mul(f64(sin).unsqueeze(1)));
    assert.ok(relativeError(T.applyRotary(h, cos, sin), expected) < 1e-6);
  });
});

test('gradients of rms_norm and attention equal those of their float64 formulas (they compute in float32)', () => {
  T.manualSeed(8);
  const leaves = (...shapes: number[][]) => shapes.map((s) => T.randn(s).requiresGrad_());
  const leaves64 = (ts: T.Tensor[]) => ts.map((t) => f64(t).detach().requiresGrad_());
  const check = (name: string, ours: T.Tensor[], theirs: T.Tensor[]) => {
    ours.forEach((t, i) => assert.ok(relativeError(t.grad!, theirs[i]!.grad!) < 1e-5, `${name}: input ${i}`));
  };
  const [x, w] = leaves([3, 6], [6]) as [T.Tensor, T.Tensor];
  const [x64, w64] = leaves64([x, w]) as [T.Tensor, T.Tensor];
  const upstream = T.randn([3, 6]);
  T.rmsNorm(x, w, 1e-5).mul(upstream).sum().backward();
  x64.div(x64.pow(2).mean(-1, true).add(1e-5).sqrt()).mul(w64).mul(f64(upstream)).sum().backward();
  check('rms_norm', [x, w], [x64, w64]);
  // 4 query heads over 2 key/value heads, 2 queries (inside autograd: the operator path), a mask.
  const qkvm = leaves([1, 4, 2, 3], [1, 2, 5, 3], [1, 2, 5, 3], [1, 1, 2, 5]);
  const qkvm64 = leaves64(qkvm);
  const out = T.randn([1, 4, 2, 3]);
  const [q, k, v, m] = qkvm as [T.Tensor, T.Tensor, T.Tensor, T.Tensor];
  T.attention(q, k, v, m).mul(out).sum().backward();
  const [q64, k64, v64, m64] = qkvm64 as [T.Tensor, T.Tensor, T.Tensor, T.Tensor];
  attentionReference(q64, k64, v64, m64).mul(f64(out)).sum().backward();
  check('attention', qkvm, qkvm64);
});
