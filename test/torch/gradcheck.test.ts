// Every differentiable op's gradient against central finite differences, in float64.
import { test } from 'node:test';
import * as T from '../../src/torch/index.js';
import { gradcheck, randomInput as rnd, type Input } from '../helpers/gradcheck.js';

const ids = (values: number[], shape = [values.length]) => T.tensor(BigInt64Array.from(values.map(BigInt)), shape);
const constant = (shape: number[], seed: number) => {
  const { data } = rnd(shape, seed);
  return T.tensor(Float64Array.from(data), shape);
};
const positive = (x: number) => 0.5 + Math.abs(x);
const awayFromZero = (x: number) => (x < 0 ? x - 0.2 : x + 0.2);

const cases: [string, (xs: T.Tensor[]) => T.Tensor, Input[]][] = [
  ['add (broadcast, alpha)', ([a, b]) => a!.add(b!, 2), [rnd([2, 3], 1), rnd([3], 2)]],
  ['sub', ([a, b]) => a!.sub(b!), [rnd([2, 3], 1), rnd([2, 1], 2)]],
  ['mul', ([a, b]) => a!.mul(b!), [rnd([2, 3], 1), rnd([2, 3], 2)]],
  ['div', ([a, b]) => a!.div(b!), [rnd([2, 3], 1), rnd([2, 3], 2, positive)]],
  ['scalar add/mul/div/sub', ([a]) => a!.add(1.5).mul(3).div(2).sub(0.25), [rnd([4], 3)]],
  ['neg', ([a]) => a!.neg(), [rnd([4], 3)]],
  ['pow scalar', ([a]) => a!.pow(3), [rnd([4], 4)]],
  ['pow tensor', ([a, b]) => a!.pow(b!), [rnd([4], 4, positive), rnd([4], 5)]],
  ['exp', ([a]) => a!.exp(), [rnd([5], 6)]],
  ['log', ([a]) => a!.log(), [rnd([5], 7, positive)]],
  ['sqrt', ([a]) => a!.sqrt(), [rnd([5], 8, positive)]],
  ['rsqrt', ([a]) => a!.rsqrt(), [rnd([5], 9, positive)]],
  ['abs', ([a]) => a!.abs(), [rnd([5], 10, awayFromZero)]],
  ['sigmoid', ([a]) => a!.sigmoid(), [rnd([5], 11)]],
  ['tanh', ([a]) => a!.tanh(), [rnd([5], 12)]],
  ['relu', ([a]) => a!.relu(), [rnd([5], 13, awayFromZero)]],
  ['sin, cos', ([a]) => a!.sin().add(a!.cos()), [rnd([5], 14)]],
  ['reciprocal', ([a]) => a!.reciprocal(), [rnd([5], 15, positive)]],
  ['maximum, minimum', ([a, b]) => a!.maximum(b!).add(a!.minimum(b!).mul(2)), [rnd([6], 16), rnd([6], 17)]],
  ['clamp', ([a]) => a!.clamp(-0.5, 0.5), [{ data: [-0.9, -0.3, 0.1, 0.45, 0.8], shape: [5] }]],
  ['matmul 2-D', ([a, b]) => a!.matmul(b!), [rnd([3, 4], 18), rnd([4, 2], 19)]],
  ['matmul batched broadcast', ([a, b]) => a!.matmul(b!), [rnd([2, 3, 4], 20), rnd([4, 2], 21)]],
  ['bmm', ([a, b]) => a!.bmm(b!), [rnd([2, 3, 4], 22), rnd([2, 4, 2], 23)]],
  ['linear', ([x, w, b]) => T.linear(x!, w!, b), [rnd([2, 3], 24), rnd([4, 3], 25), rnd([4], 26)]],
  [
    'linear, one row (decode rows take the addon kernel only outside autograd)',
    ([x, w, b]) => T.linear(x!, w!, b),
    [rnd([1, 1, 3], 72), rnd([4, 3], 73), rnd([4], 74)],
  ],
  ['sum all, sum dim', ([a]) => a!.sum().add(a!.sum(1).sum(0)), [rnd([2, 3], 27)]],
  ['mean all, mean dims keepdim', ([a]) => a!.mean([0, 2], true).add(a!.mean()), [rnd([2, 3, 2], 28)]],
  ['max dim values', ([a]) => a!.max(1).values, [rnd([3, 4], 29)]],
  ['min dim values', ([a]) => a!.min(0).values, [rnd([3, 4], 30)]],
  ['max all', ([a]) => a!.max(), [rnd([3, 4], 31)]],
  ['topk values', ([a]) => a!.topk(2, 1).values, [rnd([3, 5], 32)]],
  ['cumsum', ([a]) => a!.cumsum(1), [rnd([2, 4], 33)]],
  ['norm', ([a]) => a!.norm(), [rnd([2, 4], 34)]],
  ['softmax', ([a]) => a!.softmax(-1), [rnd([2, 5], 35)]],
  ['log_softmax', ([a]) => a!.logSoftmax(0), [rnd([3, 4], 36)]],
  ['layer_norm', ([x, w, b]) => T.layerNorm(x!, [4], w, b), [rnd([3, 4], 37), rnd([4], 38), rnd([4], 39)]],
  // rms_norm and attention compute in float32 whatever the input (as transformers), too coarse for finite
  // differences in float64: decode-kernels.test.ts checks their gradients against the float64 formula's.
  [
    'apply_rotary',
    ([x, c, s]) => T.applyRotary(x!, c!, s!),
    [rnd([1, 2, 3, 4], 82), rnd([1, 3, 4], 83), rnd([1, 3, 4], 84)],
  ],
  [
    'apply_rotary, tables without gradient (the addon kernel), heads a transposed view',
    ([x]) => T.applyRotary(x!.transpose(1, 2), constant([1, 3, 4], 85), constant([1, 3, 4], 86)),
    [rnd([1, 3, 2, 4], 87)],
  ],
  ['silu_mul', ([g, u]) => T.siluMul(g!, u!), [rnd([2, 5], 88), rnd([2, 5], 89)]],
  ['embedding', ([w]) => T.embedding(ids([2, 0, 2, 1]), w!), [rnd([3, 4], 40)]],
  [
    'conv2d stride 2 padding 1',
    ([x, w, b]) => T.conv2d(x!, w!, b, 2, 1),
    [rnd([1, 2, 5, 5], 41), rnd([3, 2, 3, 3], 42), rnd([3], 43)],
  ],
  ['gelu erf', ([a]) => T.gelu(a!), [rnd([6], 44)]],
  ['gelu tanh', ([a]) => T.gelu(a!, 'tanh'), [rnd([6], 45)]],
  ['quick_gelu', ([a]) => T.quickGelu(a!), [rnd([6], 46)]],
  ['silu', ([a]) => T.silu(a!), [rnd([6], 47)]],
  ['cat', ([a, b]) => T.cat([a!, b!], 1), [rnd([2, 2], 48), rnd([2, 3], 49)]],
  ['stack', ([a, b]) => T.stack([a!, b!], 0), [rnd([2, 3], 50), rnd([2, 3], 51)]],
  [
    'split, chunk',
    ([a]) => {
      const [p, q] = a!.split([1, 3], 1);
      const [r] = a!.chunk(2, 0);
      return p!.sum().add(q!.mul(2).sum()).add(r!.sum());
    },
    [rnd([2, 4], 52)],
  ],
  [
    'narrow, select, slice',
    ([a]) =>
      a!
        .narrow(1, 1, 2)
        .sum()
        .add(a!.select(0, 1).mul(3).sum())
        .add(a!.slice(1, 0, 4, 2).mul(5).sum()),
    [rnd([3, 4], 53)],
  ],
  ['index_select', ([a]) => a!.indexSelect(0, ids([2, 0, 2])), [rnd([3, 2], 54)]],
  ['index (advanced)', ([a]) => a!.index([ids([0, 2]), ids([1, 0])]), [rnd([3, 2], 55)]],
  ['gather', ([a]) => a!.gather(1, ids([0, 2, 1, 1], [2, 2])), [rnd([2, 3], 56)]],
  ['scatter src', ([a, s]) => a!.scatter(1, ids([2, 0], [2, 1]), s!), [rnd([2, 3], 57), rnd([2, 1], 58)]],
  ['scatter_add', ([a, s]) => a!.scatterAdd(1, ids([1, 1, 0, 2], [2, 2]), s!), [rnd([2, 3], 59), rnd([2, 2], 60)]],
  ['masked_fill', ([a]) => a!.maskedFill(a!.gt(0), -1), [rnd([6], 61, awayFromZero)]],
  [
    'in place on a matmul output: mul_, masked_fill_, div_, add_',
    ([a, b]) =>
      a!
        .matmul(b!)
        .mul_(0.5)
        .maskedFill_(T.ones([2, 2], { dtype: 'bool' }).triu(1), -3)
        .div_(2)
        .add_(1),
    [rnd([2, 3], 75), rnd([3, 2], 76)],
  ],
  ['where', ([a, b]) => T.where(a!.gt(b!), a!, b!), [rnd([6], 62), rnd([6], 63)]],
  [
    'view, reshape, permute, transpose, contiguous',
    ([a]) => a!.view(2, 6).reshape(3, 4).transpose(0, 1).contiguous().permute(1, 0).reshape(12),
    [rnd([3, 4], 64)],
  ],
  [
    'unsqueeze, squeeze, flatten, expand, repeat',
    ([a]) => a!.unsqueeze(0).squeeze(0).flatten().unsqueeze(1).expand(4, 3).repeat(1, 2),
    [rnd([2, 2], 65)],
  ],
  ['triu, tril', ([a]) => a!.triu(1).add(a!.tril(0).mul(2)), [rnd([3, 3], 66)]],
  ['cross_entropy with ignore_index', ([l]) => T.crossEntropy(l!, ids([1, -100, 3])), [rnd([3, 4], 67)]],
  [
    'cross_entropy sum, label smoothing',
    ([l]) => T.crossEntropy(l!, ids([0, 2]), { reduction: 'sum', labelSmoothing: 0.1 }),
    [rnd([2, 3], 68)],
  ],
  ['mse_loss', ([a, b]) => T.mseLoss(a!, b!), [rnd([4], 69), rnd([4], 70)]],
  [
    'dropout (same seed each pass)',
    ([a]) => {
      T.manualSeed(7);
      return T.dropout(a!, 0.5, true);
    },
    [rnd([8], 71)],
  ],
];

for (const [name, f, inputs] of cases) {
  test(`gradient: ${name}`, () => gradcheck(f, inputs));
}

test('gradcheck itself fails when autograd and finite differences disagree', async () => {
  const { throws } = await import('node:assert/strict');
  // detach() hides x from autograd, so the analytic gradient is 0 while the numeric one is 2x.
  throws(() => gradcheck(([a]) => a!.mul(a!.detach()), [rnd([3], 99)]), /element 0/);
});
