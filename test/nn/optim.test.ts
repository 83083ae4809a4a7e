import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { AdamW, clipGradNorm } from '../../src/nn/index.js';
import { assertArrayClose } from '../helpers/close.js';

/** AdamW written out by hand in float64 from the paper's algorithm (decoupled decay first). */
function referenceAdamW(
  p0: number[],
  grads: number[][],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number },
): number[] {
  const p = [...p0],
    m = p0.map(() => 0),
    v = p0.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      p[i]! *= 1 - o.lr * o.wd;
      m[i] = o.b1 * m[i]! + (1 - o.b1) * g[i]!;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * g[i]! ** 2;
      const mHat = m[i]! / (1 - o.b1 ** t),
        vHat = v[i]! / (1 - o.b2 ** t);
      p[i]! -= (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
    }
  });
  return p;
}

test('AdamW matches the algorithm computed by hand over 3 steps, per parameter group', () => {
  const a = T.tensor(Float64Array.from([1, -2, 3]), [3]).requiresGrad_();
  const b = T.tensor(Float64Array.from([0.5]), [1]).requiresGrad_();
  const opt = new AdamW([{ params: [a] }, { params: [b], lr: 0.5, weightDecay: 0 }], {
    lr: 0.1,
    betas: [0.8, 0.9],
    eps: 1e-8,
    weightDecay: 0.1,
  });
  const gradsA: number[][] = [],
    gradsB: number[][] = [];
  for (let step = 0; step < 3; step++) {
    T.scope(() => {
      // loss = Σ a² · (step+1) + b³ : gradients 2a(step+1) and 3b²
      const loss = a
        .pow(2)
        .sum()
        .mul(step + 1)
        .add(b.pow(3).sum());
      gradsA.push(Array.from(a.toTypedArray() as Float64Array, (x) => 2 * x * (step + 1)));
      gradsB.push(Array.from(b.toTypedArray() as Float64Array, (x) => 3 * x * x));
      loss.backward();
      opt.step();
      opt.zeroGrad();
    });
  }
  assertArrayClose(
    a.toTypedArray() as Float64Array,
    referenceAdamW([1, -2, 3], gradsA, { lr: 0.1, b1: 0.8, b2: 0.9, eps: 1e-8, wd: 0.1 }),
    { atol: 1e-12 },
  );
  assertArrayClose(
    b.toTypedArray() as Float64Array,
    referenceAdamW([0.5], gradsB, { lr: 0.5, b1: 0.8, b2: 0.9, eps: 1e-8, wd: 0 }),
    { atol: 1e-12 },
  );
  assert.equal(a.grad, undefined);
});

test('AdamW state dict restores training exactly', () => {
  const run = (resumeAt?: number) => {
    const p = T.tensor(Float64Array.from([1, 2]), [2]).requiresGrad_();
    let opt = new AdamW([p], { lr: 0.05 });
    for (let step = 0; step < 4; step++) {
      if (step === resumeAt) {
        const saved = opt.stateDict();
        opt = new AdamW([p], { lr: 0.05 });
        opt.loadStateDict(saved);
      }
      T.scope(() => {
        p.pow(3).sum().backward();
        opt.step();
        opt.zeroGrad();
      });
    }
    return Array.from(p.toTypedArray() as Float64Array);
  };
  assert.deepEqual(run(2), run());
});

test('AdamW rejects invalid hyperparameters by name', () => {
  assert.throws(() => new AdamW([T.zeros([1])], { lr: -1 }), /invalid learning rate -1/);
  assert.throws(() => new AdamW([T.zeros([1])], { betas: [1, 0.9] }), /invalid beta1 1/);
});

test('clipGradNorm scales all gradients to the global max norm and returns the norm before', () => {
  const a = T.zeros([2], { dtype: 'float64', requiresGrad: true });
  const b = T.zeros([1], { dtype: 'float64', requiresGrad: true });
  T.scope(() =>
    a
      .mul(T.tensor(Float64Array.from([3, 0])))
      .sum()
      .add(b.mul(4).sum())
      .backward(),
  );
  // gradients [3, 0] and [4]: global norm 5
  const norm = clipGradNorm([a, b], 1);
  assert.ok(Math.abs(norm - 5) < 1e-9);
  assertArrayClose(a.grad!.toTypedArray() as Float64Array, [0.6, 0], { atol: 1e-6 });
  assertArrayClose(b.grad!.toTypedArray() as Float64Array, [0.8], { atol: 1e-6 });
  clipGradNorm([a, b], 10); // under the limit: unchanged
  assertArrayClose(b.grad!.toTypedArray() as Float64Array, [0.8], { atol: 1e-6 });
});

/** The update as torch.optim.AdamW's single-tensor path writes it, in ATen operators. */
function operatorAdamW(p: T.Tensor, g: T.Tensor, m: T.Tensor, v: T.Tensor, step: number) {
  const [lr, b1, b2, wd, eps] = [1e-3, 0.9, 0.999, 0.1, 1e-8];
  p.mul_(1 - lr * wd);
  m.lerp_(g, 1 - b1);
  v.mul_(b2).addcmul_(g, g, 1 - b2);
  p.addcdiv_(
    m,
    v
      .sqrt()
      .div_(Math.sqrt(1 - b2 ** step))
      .add_(eps),
    -lr / (1 - b1 ** step),
  );
}

test('the one-pass AdamW update equals the operator formula: fp32, fp64, and strided tensors (the operators)', () =>
  T.noGrad(() =>
    T.scope(() => {
      T.manualSeed(3);
      for (const [dtype, tolerance] of [
        ['float32', 1e-6],
        ['float64', 1e-14],
      ] as const)
        for (const strided of [false, true]) {
          // 100 003 elements: split across threads, and not a multiple of any vector width.
          const make = () => (strided ? T.randn([317, 631], { dtype }).transpose(0, 1) : T.randn([100003], { dtype }));
          const [p, m, v0] = [make(), make(), make()];
          const v = v0.abs();
          const ours = [p.clone(), m.clone(), v.clone()];
          if (strided) ours.forEach((t, i) => (ours[i] = t.transpose(0, 1).contiguous().transpose(0, 1))); // keep the strided layout
          const theirs = [p.clone(), m.clone(), v.clone()];
          for (let step = 1; step <= 3; step++) {
            const g = make();
            T.adamwStep_(ours[0]!, g, ours[1]!, ours[2]!, {
              lr: 1e-3,
              beta1: 0.9,
              beta2: 0.999,
              weightDecay: 0.1,
              eps: 1e-8,
              step,
            });
            operatorAdamW(theirs[0]!, g, theirs[1]!, theirs[2]!, step);
          }
          ours.forEach((t, i) => {
            const error = t.sub(theirs[i]!).abs().max().item() / theirs[i]!.abs().max().item();
            assert.ok(error <= tolerance, `${dtype}${strided ? ', strided' : ''}, tensor ${i}: ${error}`);
          });
        }
      assert.throws(
        () =>
          T.adamwStep_(T.zeros([3]), T.zeros([4]), T.zeros([3]), T.zeros([3]), {
            lr: 1,
            beta1: 0.9,
            beta2: 0.9,
            weightDecay: 0,
            eps: 1e-8,
            step: 1,
          }),
        /llava::adamw_step_: parameter \[3\], gradient \[4\]/,
      );
    }),
  ));
