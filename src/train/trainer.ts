// The training loop as transformers' Trainer (4.37-4.45, what LLaVA pins) runs it: an optimizer step covers
// gradient_accumulation_steps consecutive micro-batches of one epoch; each micro-batch's mean loss is scaled and
// back-propagated, the gradients summed; the global norm is clipped; every group's lr is its initial lr × λ(steps
// taken); AdamW steps. Step k reads micro-batches (k-1)·GA … of its epoch and reseeds libtorch from (seed, k),
// so the whole run is a function of the step number: a run resumed at any step continues bit for bit.
import { AdamW, clipGradNorm } from '../nn/index.js';
import { manualSeed, noGrad, scope, type Tensor } from '../torch/index.js';
import { lrLambda, warmupSteps, type SchedulerType } from './schedule.js';
import { MasterWeights } from './master-weights.js';
import type { NamedParameter, OptimizerGroup } from './param-groups.js';

export type MicroBatch = {
  inputIds: Tensor; // [B, L] int64, with image placeholders
  attentionMask: Tensor; // [B, L]
  labels: Tensor; // [B, L], -100 = no loss
  pixelValues?: Tensor; // [N, 3, S, S]
};

/** Micro-batches of an epoch in order, from any position (a resumed run restarts mid-epoch). */
export interface MicroBatchSource {
  readonly perEpoch: number;
  epoch(epoch: number, start: number): AsyncIterator<MicroBatch>;
}

/** A model whose loss() gives the mean next-token loss over the micro-batch's targets. */
export interface TrainableModel {
  loss(batch: MicroBatch): Tensor;
  train(mode?: boolean): unknown;
}

/**
 * 'mean': transformers 4.37-4.45 (the reference): each micro-batch's mean loss / GA, i.e. the mean of the
 * micro-batch means. 'token-weighted': transformers ≥ 4.46: the sum of token losses over all the window's targets.
 */
export type LossScaling = 'mean' | 'token-weighted';

export type TrainerOptions = {
  epochs: number;
  /** Overrides epochs when > 0, as --max_steps. */
  maxSteps?: number;
  gradientAccumulationSteps: number;
  maxGradNorm: number;
  scheduler: SchedulerType;
  warmupRatio: number;
  warmupSteps?: number;
  betas: [number, number];
  eps: number;
  lossScaling: LossScaling;
  seed: number;
  /** Steps in a row with a NaN/inf loss or gradient norm that are skipped before the run stops. */
  maxNonFiniteSteps: number;
  /** Forward and backward of loss · scale, returning the mean loss (activation recompute); default the plain pass. */
  forwardBackward?: (batch: MicroBatch, scale: number) => number;
};

export type StepMetrics = {
  step: number;
  epoch: number;
  loss: number;
  /** Each micro-batch's mean loss. */
  microBatchLosses: number[];
  /** lr each group used in this step. */
  lrs: number[];
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Tokens the model saw (attended positions, before image expansion) and supervised targets. */
  tokens: number;
  targets: number;
  samples: number;
  /** Rows of the step with no supervised token at all (the reference's silent whole-sample masking). */
  fullyMaskedSamples: number;
  skipped: boolean;
  seconds: number;
};

export class NonFiniteLossError extends Error {}

export class Trainer {
  readonly optimizer: AdamW;
  readonly totalSteps: number;
  readonly warmup: number;
  readonly stepsPerEpoch: number;
  /** Optimizer steps taken (the scheduler's position). */
  step = 0;
  nonFiniteStreak = 0;
  readonly #initialLrs: number[];
  readonly #trainable: Tensor[];
  readonly #masters?: MasterWeights;
  #cursor?: { epoch: number; next: number; iterator: AsyncIterator<MicroBatch> };

  constructor(
    readonly model: TrainableModel,
    readonly groups: OptimizerGroup[],
    readonly source: MicroBatchSource,
    readonly options: TrainerOptions,
  ) {
    const ga = options.gradientAccumulationSteps;
    if (!(Number.isInteger(ga) && ga > 0))
      throw new RangeError(`gradient_accumulation_steps must be a positive integer, got ${ga}`);
    if (source.perEpoch === 0) throw new Error('the training data is empty: no micro-batch in an epoch');
    // num_update_steps_per_epoch = max(len(dataloader) // GA, 1); leftover micro-batches of an epoch are not used.
    this.stepsPerEpoch = Math.max(Math.floor(source.perEpoch / ga), 1);
    this.totalSteps =
      options.maxSteps && options.maxSteps > 0 ? options.maxSteps : Math.ceil(options.epochs * this.stepsPerEpoch);
    this.warmup = warmupSteps(this.totalSteps, options.warmupRatio, options.warmupSteps);
    // Weights in bf16/fp16 train through fp32 masters, which the optimizer then holds.
    const weights = groups.flatMap((g) => g.params);
    this.#masters = weights.some((w) => w.dtype !== 'float32') ? new MasterWeights(weights) : undefined;
    const own = (p: Tensor) => this.#masters?.masterOf(p) ?? p;
    this.optimizer = new AdamW(
      groups.map((g) => ({ params: g.params.map(own), lr: g.lr, weightDecay: g.weightDecay })),
      { betas: options.betas, eps: options.eps },
    );
    this.#initialLrs = groups.map((g) => g.lr);
    this.#trainable = weights.map(own);
  }

  /** The tensors the optimizer updates (fp32 masters under bf16), named as the model's weights: what a checkpoint holds. */
  stateParameters(named: NamedParameter[]): NamedParameter[] {
    return named.map(([n, p]) => [n, this.#masters?.masterOf(p) ?? p]);
  }

  /** After the optimizer's tensors were loaded: the model's weights follow their masters. */
  syncWeights(): void {
    this.#masters?.copyToWeights();
  }

  get done(): boolean {
    return this.step >= this.totalSteps;
  }

  /** lr of each group for the step after `taken` steps. */
  lrsAt(taken: number): number[] {
    const lambda = lrLambda(this.options.scheduler, taken, this.warmup, this.totalSteps);
    return this.#initialLrs.map((lr) => lr * lambda);
  }

  /** One optimizer step: GA micro-batches forward and backward, clip, schedule, AdamW. */
  async trainStep(): Promise<StepMetrics> {
    const started = performance.now();
    const k = this.step + 1;
    const epoch = Math.floor((k - 1) / this.stepsPerEpoch);
    const ga = this.options.gradientAccumulationSteps;
    const first = ((k - 1) % this.stepsPerEpoch) * ga;
    const batches: MicroBatch[] = [];
    for (let j = 0; j < ga; j++) batches.push(await this.#microBatch(epoch, first + j));
    manualSeed(stepSeed(this.options.seed, k));
    this.model.train();
    const counts = batches.map(countTargets);
    const windowTargets = counts.reduce((n, c) => n + c.targets, 0);
    let loss = 0;
    const microBatchLosses: number[] = [];
    for (const [j, batch] of batches.entries()) {
      const { targets } = counts[j]!;
      // No target: the mean is 0/0; the micro-batch adds nothing (the reference's NaN would poison the step).
      if (targets === 0) {
        microBatchLosses.push(Number.NaN);
        continue;
      }
      const scale = this.options.lossScaling === 'mean' ? 1 / ga : targets / windowTargets;
      const mean = this.options.forwardBackward
        ? this.options.forwardBackward(batch, scale)
        : scope(() => {
            // Only the loss outlives the forward: every other tensor it made goes before backward.
            const out = scope(() => this.model.loss(batch));
            out.mul(scale).backward();
            return out.item();
          });
      microBatchLosses.push(mean);
      loss = Math.fround(loss + Math.fround(mean * scale));
    }
    this.#masters?.gradientsToMasters();
    const gradNorm = clipGradNorm(this.#trainable, this.options.maxGradNorm);
    const lrs = this.lrsAt(this.step);
    const skipped = windowTargets === 0 || !Number.isFinite(loss) || !Number.isFinite(gradNorm);
    if (skipped) {
      this.nonFiniteStreak += windowTargets === 0 ? 0 : 1;
      if (this.nonFiniteStreak >= this.options.maxNonFiniteSteps) {
        this.optimizer.zeroGrad();
        throw new NonFiniteLossError(
          `step ${k}: loss ${loss}, gradient norm ${gradNorm}: ${this.nonFiniteStreak} steps in a row were not finite (max_non_finite_steps ${this.options.maxNonFiniteSteps}); stopping`,
        );
      }
    } else {
      this.nonFiniteStreak = 0;
      this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]!));
      this.optimizer.step();
      this.#masters?.copyToWeights();
    }
    this.optimizer.zeroGrad();
    for (const b of batches) disposeBatch(b);
    this.step = k;
    return {
      step: k,
      epoch: k / this.stepsPerEpoch,
      loss,
      microBatchLosses,
      lrs,
      gradNorm,
      tokens: counts.reduce((n, c) => n + c.tokens, 0),
      targets: windowTargets,
      samples: counts.reduce((n, c) => n + c.samples, 0),
      fullyMaskedSamples: counts.reduce((n, c) => n + c.fullyMasked, 0),
      skipped,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** Micro-batch `index` of `epoch`, reading on from the last one when it follows it. */
  async #microBatch(epoch: number, index: number): Promise<MicroBatch> {
    if (!this.#cursor || this.#cursor.epoch !== epoch || this.#cursor.next !== index) {
      await this.#cursor?.iterator.return?.();
      this.#cursor = { epoch, next: index, iterator: this.source.epoch(epoch, index) };
    }
    const { value, done } = await this.#cursor.iterator.next();
    if (done)
      throw new Error(
        `epoch ${epoch} ended before micro-batch ${index} (the source gave fewer than ${this.source.perEpoch})`,
      );
    this.#cursor.next++;
    return value;
  }

  /** Ends the data iterator (worker threads, open files). */
  async close(): Promise<void> {
    await this.#cursor?.iterator.return?.();
    this.#cursor = undefined;
  }
}

/** libtorch's seed for step k (dropout): a mix of the run's seed and k, so no RNG state needs saving. */
export function stepSeed(seed: number, k: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(k, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** Targets the loss counts (labels[:, 1:] ≠ -100 at attended positions), tokens, rows, rows without targets. */
function countTargets(batch: MicroBatch): { targets: number; tokens: number; samples: number; fullyMasked: number } {
  return noGrad(() =>
    scope(() => {
      const L = batch.labels.size(1);
      const attended = batch.attentionMask.ne(0);
      const supervised = batch.labels
        .ne(-100)
        .logicalAnd(attended)
        .narrow(1, 1, L - 1)
        .sum(1); // [B]
      return {
        targets: supervised.sum().item(),
        tokens: attended.sum().item(),
        samples: batch.labels.size(0),
        fullyMasked: supervised.eq(0).sum().item(),
      };
    }),
  );
}

function disposeBatch(b: MicroBatch): void {
  for (const t of [b.inputIds, b.attentionMask, b.labels, b.pixelValues]) t?.dispose();
}
