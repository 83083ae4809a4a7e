// llava::attention under autograd (native/attention_train.cc): blocked softmax attention with its own backward,
// against the float64 formula written with plain operators and differentiated by libtorch: outputs and the
// gradients of query, key and value, for causal and padding masks (fully masked rows included), a broadcast mask,
// no mask, grouped-query heads and a length that is not a multiple of the 64-row block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { causalMask } from '../../src/models/index.js';
import { attentionReference, f64, relativeError } from '../helpers/attention-reference.js';

const isNan = (t: T.Tensor) => t.ne(t);
const B = 2;
const H = 4;
const KV_HEADS = 2;
const POSITIONS = 130; // blocks of 64, 64 and 2 rows
const D = 16;

/** Output and q/k/v gradients of T.attention and of the float64 reference, for the same leaves and upstream. */
function both(dtype: 'float32' | 'float64', mask: (dtype: 'float32' | 'float64') => T.Tensor | undefined) {
  T.manualSeed(11);
  const shapes = [
    [B, H, POSITIONS, D],
    [B, KV_HEADS, POSITIONS, D],
    [B, KV_HEADS, POSITIONS, D],
  ];
  const leaves = shapes.map((s) => T.randn(s, { dtype }).requiresGrad_());
  const reference = leaves.map((t) => f64(t).detach().requiresGrad_());
  const upstream = T.randn([B, H, POSITIONS, D], { dtype });
  const ours = T.attention(leaves[0]!, leaves[1]!, leaves[2]!, mask(dtype));
  ours.mul(upstream).sum().backward();
  const theirs = attentionReference(reference[0]!, reference[1]!, reference[2]!, mask('float64'));
  theirs.mul(f64(upstream)).sum().backward();
  return { ours, theirs, leaves, reference };
}

// Sample 1 is left-padded by 5: its first 5 query rows see nothing (the formula's uniform weights).
function paddingMask(): T.Tensor {
  const attend = T.ones([B, POSITIONS]);
  attend.narrow(0, 1, 1).narrow(1, 0, 5).fill_(0);
  return attend;
}

const MASKS: [string, (dtype: 'float32' | 'float64') => T.Tensor | undefined][] = [
  ['causal and left padding', (dtype) => causalMask(B, POSITIONS, 0, paddingMask(), dtype)],
  ['causal, broadcast over the batch', (dtype) => causalMask(1, POSITIONS, 0, undefined, dtype)],
  ['no mask', () => undefined],
];

for (const [name, mask] of MASKS)
  for (const [dtype, tolerance] of [
    ['float64', 1e-12],
    ['float32', 1e-5],
  ] as const)
    test(`attention under autograd, ${name}, ${dtype}: output and q/k/v gradients equal the float64 formula`, () =>
      T.scope(() => {
        const { ours, theirs, leaves, reference } = both(dtype, mask);
        assert.ok(relativeError(ours, theirs) < tolerance, `output: ${relativeError(ours, theirs)}`);
        leaves.forEach((leaf, i) => {
          const error = relativeError(leaf.grad!, reference[i]!.grad!);
          assert.ok(error < tolerance, `gradient of input ${i}: ${error}`);
        });
      }));

test('attention under autograd: blocks past the causal diagonal are never computed, and runs repeat bitwise', () =>
  T.scope(() => {
    const q = T.randn([B, H, POSITIONS, D]).requiresGrad_();
    const finiteKeys = T.randn([B, KV_HEADS, POSITIONS, D]);
    const k = finiteKeys.clone();
    k.narrow(2, POSITIONS - 1, 1).fill_(Number.NaN); // the last key: visible to the last query row only
    const v = T.randn([B, KV_HEADS, POSITIONS, D]);
    const out = T.attention(q, k, v, causalMask(B, POSITIONS, 0, undefined, 'float32'));
    // Rows 0–127 (the first two blocks) never read key 129, so they stay finite; the formula would make every
    // row NaN (NaN + the mask's lowest value is NaN). The last block's rows read it.
    assert.equal(
      isNan(out.narrow(2, 0, 128))
        .sum()
        .item(),
      0,
    );
    assert.equal(
      isNan(out.narrow(2, 128, 2))
        .sum()
        .item(),
      B * H * 2 * D,
    );
    const run = () => {
      const leaves = [q, finiteKeys, v].map((t) => t.detach().requiresGrad_());
      T.attention(leaves[0]!, leaves[1]!, leaves[2]!, causalMask(B, POSITIONS, 0, undefined, 'float32'))
        .pow(2)
        .sum()
        .backward();
      return leaves.map((t) => t.grad!);
    };
    const [first, second] = [run(), run()];
    first.forEach((g, i) => assert.equal(g.sub(second[i]!).abs().max().item(), 0, `gradient ${i}`));
  }));
