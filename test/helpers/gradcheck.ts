// Gradient check as torch.autograd.gradcheck: autograd's gradient of a random projection of
// f's output against central finite differences, in float64.
import { grad, scope, tensor, type Tensor } from '../../src/torch/index.js';
import { assertArrayClose } from './close.js';

export type Input = { data: number[]; shape: number[] };

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32), independent of libtorch. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

export function randomInput(shape: number[], seed: number, transform: (x: number) => number = (x) => x): Input {
  const r = seeded(seed);
  return { data: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => transform(r())), shape };
}

function projected(
  f: (xs: Tensor[]) => Tensor,
  inputs: Input[],
  requiresGrad: boolean,
): { value: number; grads: number[][] } {
  return scope(() => {
    const xs = inputs.map((i) => tensor(Float64Array.from(i.data), i.shape).requiresGrad_(requiresGrad));
    const out = f(xs);
    const r = seeded(12345);
    const weights = tensor(
      Float64Array.from({ length: out.numel }, () => r()),
      out.shape,
    );
    const s = out.to('float64').mul(weights).sum();
    const grads = requiresGrad
      ? grad([s], xs, { allowUnused: true }).map((g, k) =>
          g ? Array.from(g.toTypedArray() as Float64Array) : new Array(inputs[k]!.data.length).fill(0),
        )
      : [];
    return { value: s.item(), grads };
  });
}

export function gradcheck(
  f: (xs: Tensor[]) => Tensor,
  inputs: Input[],
  { eps = 1e-6, atol = 1e-5, rtol = 1e-4 } = {},
): void {
  const analytic = projected(f, inputs, true).grads;
  inputs.forEach((input, k) => {
    const numeric = input.data.map((_, j) => {
      const shifted = (delta: number) =>
        inputs.map((i, m) => (m === k ? { ...i, data: i.data.map((v, n) => (n === j ? v + delta : v)) } : i));
      return (projected(f, shifted(eps), false).value - projected(f, shifted(-eps), false).value) / (2 * eps);
    });
    assertArrayClose(analytic[k]!, numeric, { atol, rtol });
  });
}
