// Forward values of the ops against values computed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { assertTensorClose as close } from '../helpers/close.js';

const f32 = (data: number[], shape = [data.length]) => T.tensor(Float32Array.from(data), shape);
const i64 = (data: number[], shape = [data.length]) => T.tensor(BigInt64Array.from(data.map(BigInt)), shape);
const a = () => f32([1, 2, 3, 4, 5, 6], [2, 3]);

test('tensor() shares typed-array memory and keeps dtype; toTypedArray copies', () => {
  const data = new Float32Array([1, 2, 3, 4]);
  const t = T.tensor(data, [2, 2]);
  assert.equal(t.dtype, 'float32');
  data[0] = 10;
  assert.deepEqual(Array.from(t.toTypedArray() as Float32Array), [10, 2, 3, 4]);
  const copy = t.toTypedArray();
  (copy as Float32Array)[1] = 99;
  assert.equal((t.toTypedArray() as Float32Array)[1], 2);
  assert.equal(T.tensor(new BigInt64Array([1n]), [1]).dtype, 'int64');
  assert.equal(T.tensor(new Int32Array([1]), [1]).dtype, 'int32');
  assert.equal(T.tensor(new Uint8Array([1, 0]), [2], 'bool').dtype, 'bool');
  assert.equal(T.tensor([1, 2]).dtype, 'float32');
  assert.equal(T.tensor(new Float32Array([1.5]), [1], 'float64').dtype, 'float64');
});

test('bfloat16 and float16 travel as raw bits', () => {
  // 1.0 is 0x3F80 in bf16 and 0x3C00 in f16; -2.5 is 0xC020 in bf16.
  close(T.tensor(new Uint16Array([0x3f80, 0xc020]), [2], 'bfloat16').to('float32'), [1, -2.5], [2]);
  close(T.tensor(new Uint16Array([0x3c00]), [1], 'float16').to('float32'), [1], [1]);
  assert.deepEqual(Array.from(f32([1, -2.5]).to('bfloat16').toTypedArray() as Uint16Array), [0x3f80, 0xc020]);
});

test('arithmetic with broadcasting and scalars; int stays int, fractions promote', () => {
  close(a().add(f32([10, 20, 30])), [11, 22, 33, 14, 25, 36], [2, 3]);
  close(a().sub(f32([1, 2], [2, 1]), 2), [-1, 0, 1, 0, 1, 2], [2, 3]);
  close(a().mul(a()), [1, 4, 9, 16, 25, 36], [2, 3]);
  close(a().div(2), [0.5, 1, 1.5, 2, 2.5, 3], [2, 3]);
  assert.equal(i64([3]).mul(2).dtype, 'int64');
  assert.equal(i64([3]).mul(2.5).dtype, 'float32');
  close(f32([2, 3]).pow(2), [4, 9], [2]);
  close(f32([2, 3]).pow(f32([3, 0.5])), [8, Math.sqrt(3)], [2]);
  close(f32([0, 1]).exp(), [1, Math.E], [2]);
  close(f32([1, Math.E]).log(), [0, 1], [2]);
  close(f32([4, 9]).sqrt(), [2, 3], [2]);
  close(f32([4, 16]).rsqrt(), [0.5, 0.25], [2]);
  close(f32([-2, 3]).abs(), [2, 3], [2]);
  close(f32([-2, 3]).neg(), [2, -3], [2]);
  close(f32([0]).sigmoid(), [0.5], [1]);
  close(f32([-1, 2]).relu(), [0, 2], [2]);
  close(f32([1, 5]).maximum(f32([3, 2])), [3, 5], [2]);
  close(f32([1, 5]).minimum(f32([3, 2])), [1, 2], [2]);
  close(f32([-2, 0.5, 2]).clamp(-1, 1), [-1, 0.5, 1], [3]);
  close(f32([1, 2, 3]).gt(2), [0, 0, 1], [3]);
  close(f32([1, 2, 3]).eq(f32([1, 0, 3])), [1, 0, 1], [3]);
});

test('matmul, bmm, linear', () => {
  // [[1,2,3],[4,5,6]] · [[1,2,3],[4,5,6]]ᵀ = [[14,32],[32,77]]
  close(a().matmul(a().transpose(0, 1)), [14, 32, 32, 77], [2, 2]);
  close(
    a()
      .unsqueeze(0)
      .bmm(f32([1, 0, 1], [1, 3, 1])),
    [4, 10],
    [1, 2, 1],
  );
  close(T.linear(a(), f32([1, 1, 1], [1, 3]), f32([0.5])), [6.5, 15.5], [2, 1]);
  close(T.linear(f32([1, 2, 3], [1, 1, 3]), f32([1, 0, 0, 0, 1, 1], [2, 3]), f32([1, 2])), [2, 7], [1, 1, 2]); // one row: gemv
});

test('reductions: sum, mean, max, min, argmax, topk, sort, cumsum, norm', () => {
  close(a().sum(), [21], []);
  close(a().sum(0), [5, 7, 9], [3]);
  close(a().sum(1, true), [6, 15], [2, 1]);
  close(a().mean(1), [2, 5], [2]);
  close(a().max(), [6], []);
  const m = f32([3, 9, 1, 7, 2, 8], [2, 3]).max(1);
  close(m.values, [9, 8], [2]);
  close(m.indices, [1, 2], [2]);
  close(f32([3, 9, 1, 7, 2, 8], [2, 3]).min(1).indices, [2, 1], [2]);
  close(f32([3, 9, 1, 7]).argmax(), [1], []);
  const k = f32([3, 9, 1, 7]).topk(2);
  close(k.values, [9, 7], [2]);
  close(k.indices, [1, 3], [2]);
  close(f32([3, 1, 2]).sort().values, [1, 2, 3], [3]);
  close(f32([1, 2, 3]).cumsum(0), [1, 3, 6], [3]);
  close(f32([3, 4]).norm(), [5], []);
});

test('softmax and log_softmax', () => {
  const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
  const z = e[0]! + e[1]! + e[2]!;
  close(
    f32([1, 2, 3]).softmax(0),
    e.map((v) => v / z),
    [3],
  );
  close(
    f32([1, 2, 3]).logSoftmax(0),
    [1, 2, 3].map((v) => v - Math.log(z)),
    [3],
  );
});

test('layer_norm, embedding, conv2d', () => {
  // mean 2.5, var 1.25 over [1,2,3,4]
  const s = Math.sqrt(1.25 + 1e-5);
  close(T.layerNorm(f32([1, 2, 3, 4]), [4]), [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], [4], { atol: 1e-5 });
  close(
    T.layerNorm(f32([1, 2, 3, 4]), [4], f32([2, 2, 2, 2]), f32([1, 1, 1, 1])),
    [1 - 3 / s, 1 - 1 / s, 1 + 1 / s, 1 + 3 / s],
    [4],
    { atol: 1e-5 },
  );
  close(T.embedding(i64([2, 0]), f32([0, 1, 10, 11, 20, 21], [3, 2])), [20, 21, 0, 1], [2, 2]);
  // 3x3 image 1..9, 2x2 kernel of ones: each output is the sum of a 2x2 window.
  close(
    T.conv2d(f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]), f32([1, 1, 1, 1], [1, 1, 2, 2]), f32([0.5])),
    [12.5, 16.5, 24.5, 28.5],
    [1, 1, 2, 2],
  );
  close(
    T.conv2d(f32([1, 2, 3, 4], [1, 1, 2, 2]), f32([1], [1, 1, 1, 1]), undefined, 1, 1),
    [0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0],
    [1, 1, 4, 4],
  );
});

test('activations: gelu (erf and tanh), quick_gelu, silu', () => {
  const erfOfOneOverSqrt2 = 0.6826894921370859; // GELU(x) = x·Φ(x) = x/2·(1 + erf(x/√2))
  close(T.gelu(f32([0, 1])), [0, 0.5 * (1 + erfOfOneOverSqrt2)], [2]);
  const tanhGelu1 = 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (1 + 0.044715)));
  close(T.gelu(f32([1]), 'tanh'), [tanhGelu1], [1]);
  close(T.quickGelu(f32([1])), [1 / (1 + Math.exp(-1.702))], [1]);
  close(T.silu(f32([2])), [2 / (1 + Math.exp(-2))], [1]);
});

test('joining, splitting and indexing', () => {
  close(T.cat([f32([1, 2]), f32([3])]), [1, 2, 3], [3]);
  close(T.stack([f32([1, 2]), f32([3, 4])], 1), [1, 3, 2, 4], [2, 2]);
  const parts = f32([1, 2, 3, 4, 5]).split(2);
  assert.deepEqual(
    parts.map((p) => p.shape),
    [[2], [2], [1]],
  );
  close(f32([1, 2, 3, 4, 5]).split([1, 4])[1]!, [2, 3, 4, 5], [4]);
  close(a().narrow(1, 1, 2), [2, 3, 5, 6], [2, 2]);
  close(a().select(0, 1), [4, 5, 6], [3]);
  close(a().slice(1, 0, 3, 2), [1, 3, 4, 6], [2, 2]);
  close(a().indexSelect(1, i64([2, 0])), [3, 1, 6, 4], [2, 2]);
  close(a().index([i64([1, 0]), i64([2, 1])]), [6, 2], [2]);
  close(a().gather(1, i64([2, 2, 0, 1], [2, 2])), [3, 3, 4, 5], [2, 2]);
  close(T.zeros([2, 3]).scatter(1, i64([1, 2], [2, 1]), f32([7, 8], [2, 1])), [0, 7, 0, 0, 0, 8], [2, 3]);
  close(T.zeros([2, 3]).scatter(1, i64([0, 0], [2, 1]), 5), [5, 0, 0, 5, 0, 0], [2, 3]);
  close(T.zeros([3]).scatterAdd(0, i64([1, 1, 2]), f32([1, 2, 3])), [0, 3, 3], [3]);
  close(a().maskedFill(a().gt(4), -1), [1, 2, 3, 4, -1, -1], [2, 3]);
  close(T.where(f32([1, 0]).gt(0), f32([1, 2]), f32([3, 4])), [1, 4], [2]);
  close(T.where(f32([1, 0]).gt(0), f32([1, 2]), -9), [1, -9], [2]);
  close(T.ones([3, 3]).triu(1), [0, 1, 1, 0, 0, 1, 0, 0, 0], [3, 3]);
  close(T.ones([3, 3]).tril(), [1, 0, 0, 1, 1, 0, 1, 1, 1], [3, 3]);
});

test('views and shapes', () => {
  close(a().view(3, 2), [1, 2, 3, 4, 5, 6], [3, 2]);
  close(a().reshape(-1), [1, 2, 3, 4, 5, 6], [6]);
  close(a().permute(1, 0).contiguous(), [1, 4, 2, 5, 3, 6], [3, 2]);
  assert.deepEqual(a().unsqueeze(1).shape, [2, 1, 3]);
  assert.deepEqual(a().unsqueeze(1).squeeze(1).shape, [2, 3]);
  assert.deepEqual(T.zeros([2, 3, 4]).flatten(1).shape, [2, 12]);
  close(f32([1, 2], [2, 1]).expand(2, 2), [1, 1, 2, 2], [2, 2]);
  close(f32([1, 2]).repeat(2), [1, 2, 1, 2], [4]);
  assert.equal(a().size(-1), 3);
  assert.equal(a().numel, 6);
});

test('factories: zeros, ones, full, arange, seeded randn/rand/randint', () => {
  close(T.zeros([2]), [0, 0], [2]);
  close(T.ones([2], { dtype: 'float64' }), [1, 1], [2]);
  assert.equal(T.ones([1], { dtype: 'float64' }).dtype, 'float64');
  close(T.full([2], 7), [7, 7], [2]);
  close(T.arange(1, 7, 2), [1, 3, 5], [3]);
  assert.equal(T.arange(0, 3).dtype, 'int64');
  T.manualSeed(42);
  const first = Array.from(T.randn([5]).toTypedArray() as Float32Array);
  T.manualSeed(42);
  assert.deepEqual(Array.from(T.randn([5]).toTypedArray() as Float32Array), first);
  const u = Array.from(T.rand([1000]).toTypedArray() as Float32Array);
  assert.ok(u.every((v) => v >= 0 && v < 1));
  const r = Array.from(T.randint(3, 6, [1000]).toTypedArray() as BigInt64Array, Number);
  assert.deepEqual([...new Set(r)].sort(), [3, 4, 5]);
  assert.ok(T.zeros([2], { requiresGrad: true }).requiresGrad);
});

test('cross_entropy: hand-computed, with ignore_index -100 left out of the mean', () => {
  // logits row [0, ln 3]: p(1) = 3/4, loss -ln(3/4); row 2 ignored.
  const loss = T.crossEntropy(f32([0, Math.log(3), 5, 1], [2, 2]), i64([1, -100]));
  close(loss, [-Math.log(0.75)], [], { atol: 1e-6 });
  const none = T.crossEntropy(f32([0, Math.log(3), 5, 1], [2, 2]), i64([1, -100]), { reduction: 'none' });
  close(none, [-Math.log(0.75), 0], [2], { atol: 1e-6 });
});

test('dropout: train scales kept elements by 1/(1-p), eval is identity; seeded', () => {
  T.manualSeed(3);
  const out = Array.from(T.dropout(T.ones([1000]), 0.25, true).toTypedArray() as Float32Array);
  assert.ok(out.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6));
  const dropped = out.filter((v) => v === 0).length;
  assert.ok(dropped > 180 && dropped < 320, `dropped ${dropped} of 1000 at p=0.25`);
  close(T.dropout(f32([1, 2]), 0.5, false), [1, 2], [2]);
});

test('in-place ops return this and change the tensor', () => {
  const t = f32([1, 2]);
  assert.equal(t.add_(1), t);
  close(t, [2, 3], [2]);
  t.mul_(2)
    .addcmul_(f32([1, 1]), f32([2, 3]), 0.5)
    .addcdiv_(f32([4, 4]), f32([2, 4]));
  close(t, [4 + 1 + 2, 6 + 1.5 + 1], [2]);
  t.lerp_(f32([0, 0]), 0.5);
  close(t, [3.5, 4.25], [2]);
  close(t.zero_(), [0, 0], [2]);
  close(t.fill_(3), [3, 3], [2]);
  close(t.copy_(f32([5, 6])), [5, 6], [2]);
  close(t.div_(2).clamp_(0, 2.75), [2.5, 2.75], [2]);
  close(t.maskedFill_(f32([1, 0]).gt(0), -1), [-1, 2.75], [2]);
});

test('dtype casts', () => {
  close(f32([1.7, -1.7]).to('int64'), [1, -1], [2]);
  assert.equal(f32([1]).to('float16').dtype, 'float16');
  close(i64([1, 0, 2]).to('bool'), [1, 0, 1], [3]);
});
