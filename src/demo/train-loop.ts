// Stage 0's optimisation loop, shared by the CLIP and the LLaMA pretraining: AdamW with transformers' cosine schedule
// (linear warm-up, λ(s) of the steps already taken, as the Trainer), global-norm clipping, and a seeded order of
// distinct rows per step, so a run is a function of its seed.
import { AdamW, clipGradNorm } from '../nn/index.js';
import { manualSeed, scope, tensor, type Tensor } from '../torch/index.js';
import { lrLambda, warmupSteps } from '../train/schedule.js';
import { permutation, rng } from '../data/rng.js';

export type LoopOptions = {
  steps: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Fraction of the steps spent warming the lr up from 0 (default 0.05). */
  warmupRatio?: number;
  /** AdamW's decoupled weight decay (default 0). */
  weightDecay?: number;
  /** Gradient clipping by global norm (default 1, as the Trainer). */
  maxGradNorm?: number;
  /** Progress lines; every `logEvery` steps (default a tenth of the run) and the last. */
  log?: (line: string) => void;
  logEvery?: number;
};

export type LoopResult = { losses: number[]; seconds: number };

/**
 * Runs `steps` optimizer steps over `params`; `loss(step)` builds the step's mean loss (a scalar with a graph).
 * `describe` adds to each progress line (e.g. a held-out metric).
 */
export function optimise(
  name: string,
  params: Tensor[],
  o: LoopOptions,
  loss: (step: number) => Tensor,
  describe: () => string = () => '',
): LoopResult {
  manualSeed(o.seed);
  const optimizer = new AdamW(params, { lr: o.learningRate, weightDecay: o.weightDecay ?? 0 });
  const warmup = warmupSteps(o.steps, o.warmupRatio ?? 0.05);
  const every = o.logEvery ?? Math.max(1, Math.round(o.steps / 10));
  const losses: number[] = [];
  const start = performance.now();
  for (let s = 0; s < o.steps; s++) {
    const lr = o.learningRate * lrLambda('cosine', s, warmup, o.steps);
    for (const g of optimizer.paramGroups) g.lr = lr;
    const value = scope(() => {
      const l = loss(s);
      l.backward();
      return l.item();
    });
    const norm = clipGradNorm(params, o.maxGradNorm ?? 1);
    optimizer.step();
    optimizer.zeroGrad();
    if (!Number.isFinite(value)) throw new Error(`${name}: the loss is ${value} at step ${s + 1}`);
    losses.push(value);
    if ((s + 1) % every === 0 || s + 1 === o.steps) {
      const secs = (performance.now() - start) / 1000;
      const extra = describe();
      o.log?.(
        `${name} step ${s + 1}/${o.steps}  loss ${value.toFixed(4)}  lr ${lr.toExponential(2)}  grad norm ${norm.toFixed(2)}  ${secs.toFixed(1)} s${extra ? '  ' + extra : ''}`,
      );
    }
  }
  return { losses, seconds: (performance.now() - start) / 1000 };
}

/**
 * Row indices [B] (int64) per step over `n` rows: each epoch a seeded permutation, cut into whole batches of
 * distinct rows (the tail that does not fill a batch waits for the next epoch's order).
 */
export function batchOrder(
  n: number,
  batchSize: number,
  seed: number,
): (s: number) => { rows: number[]; index: Tensor } {
  const B = Math.min(batchSize, n);
  const perEpoch = Math.floor(n / B);
  let cached: { epoch: number; order: number[] } | undefined;
  return (s) => {
    const epoch = Math.floor(s / perEpoch);
    if (cached?.epoch !== epoch) cached = { epoch, order: permutation(n, rng(seed, epoch)) };
    const rows = cached.order.slice((s % perEpoch) * B, ((s % perEpoch) + 1) * B);
    return { rows, index: tensor(BigInt64Array.from(rows, BigInt), [B]) };
  };
}
