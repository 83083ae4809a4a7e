// The training loop as transformers' Trainer (4.37-4.45, what LLaVA pins) runs it: an optimizer step covers
// gradient_accumulation_steps consecutive micro-batches of one epoch; each micro-batch's mean loss is scaled and
// back-propagated, the gradients summed; the global norm is clipped; every group's lr is its initial lr × λ(steps
// taken); AdamW steps. Step k reads micro-batches (k-1)·GA … of its epoch and reseeds libtorch from (seed, k),
// so the whole run is a function of the step number: a run resumed at any step continues bit for bit.
// Over a process group each rank runs GA / world of the step's micro-batches (per-device batch × GA / world × world
// = the recipe's global batch) and DataParallel averages the gradients during the last one's backward, so the
// step, its loss (all-reduced, the global mean) and the schedule are those of one process.
// With zeroStage 1 or 2 the ZeroOptimizer replaces AdamW and the fp32 masters: each rank keeps its shard of them.
import { DataParallel, ZeroOptimizer, type ProcessGroup } from '../distributed/index.js';
import { AdamW, clipGradNorm } from '../nn/index.js';
import { manualSeed, scope, type Tensor } from '../torch/index.js';
import { allReduceSum, countTargets, disposeBatch, sumCounts } from './batch-counts.js';
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
  /** Data parallel over this group (call connect() before training); this source gives the rank's share. */
  group?: ProcessGroup;
  /** With a group: 0 = DataParallel, 1 / 2 = ZeRO stage 1 / 2 (optimizer state, then gradients, sharded). */
  zeroStage?: 0 | 1 | 2;
};

type AdamState = { step: number; expAvg: Tensor; expAvgSq: Tensor };

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
  /** Micro-batches this rank runs per step: gradient_accumulation_steps / world size. */
  readonly localAccumulation: number;
  /** Optimizer steps taken (the scheduler's position). */
  step = 0;
  nonFiniteStreak = 0;
  readonly #initialLrs: number[];
  readonly #trainable: Tensor[];
  readonly #masters?: MasterWeights;
  #parallel?: DataParallel;
  #zero?: ZeroOptimizer;
  /** Under ZeRO, between gatherState() and releaseState(): every weight's fp32 master and AdamW state, gathered. */
  #gathered?: { masters: Tensor[]; state: Map<number, AdamState> };
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
    const world = options.group?.worldSize ?? 1;
    if (ga % world !== 0)
      throw new RangeError(
        `gradient_accumulation_steps ${ga} does not split over ${world} ranks: the global batch is per_device_train_batch_size × gradient_accumulation_steps, each rank runs gradient_accumulation_steps / world micro-batches`,
      );
    this.localAccumulation = ga / world;
    if (source.perEpoch === 0) throw new Error('the training data is empty: no micro-batch in an epoch');
    // num_update_steps_per_epoch = max(len(dataloader) // GA, 1); leftover micro-batches of an epoch are not used.
    this.stepsPerEpoch = Math.max(Math.floor(source.perEpoch / this.localAccumulation), 1);
    this.totalSteps =
      options.maxSteps && options.maxSteps > 0 ? options.maxSteps : Math.ceil(options.epochs * this.stepsPerEpoch);
    this.warmup = warmupSteps(this.totalSteps, options.warmupRatio, options.warmupSteps);
    // Weights in bf16/fp16 train through fp32 masters, which the optimizer then holds.
    const weights = groups.flatMap((g) => g.params);
    const sharded = options.group !== undefined && (options.zeroStage ?? 0) > 0;
    this.#masters = !sharded && weights.some((w) => w.dtype !== 'float32') ? new MasterWeights(weights) : undefined;
    const own = (p: Tensor) => this.#masters?.masterOf(p) ?? p;
    this.optimizer = new AdamW(
      groups.map((g) => ({ params: g.params.map(own), lr: g.lr, weightDecay: g.weightDecay })),
      { betas: options.betas, eps: options.eps },
    );
    this.#initialLrs = groups.map((g) => g.lr);
    this.#trainable = weights.map(own);
  }

  /**
   * Joins the group's data parallel run: every rank takes rank 0's trainable weights (and masters from them) and
   * hooks their gradients. Before training and before loading a checkpoint.
   */
  async connect(): Promise<void> {
    const group = this.options.group;
    if (!group) throw new Error('Trainer.connect: no process group in the options');
    const weights = this.groups.flatMap((g) => g.params);
    const stage = this.options.zeroStage ?? 0;
    if (stage === 0 && weights.some((w) => w.dtype !== 'float32'))
      throw new Error(
        `zero_stage 0 with ${weights.find((w) => w.dtype !== 'float32')!.dtype} weights: Gloo (the CPU backend) has no bfloat16 all-reduce for DDP's gradients; use zero_stage 1 or 2, which reduce them in fp32`,
      );
    if (stage === 0) this.#parallel = await DataParallel.create(group, weights);
    else
      this.#zero = await ZeroOptimizer.create(
        group,
        this.groups.map((g) => ({ params: g.params, lr: g.lr, weightDecay: g.weightDecay })),
        stage,
        { betas: this.options.betas, eps: this.options.eps },
      );
    this.#masters?.copyFromWeights();
  }

  /** Under ZeRO (every rank): gathers the masters and AdamW state from the shards for a checkpoint to save or load. */
  async gatherState(): Promise<void> {
    if (!this.#zero) return;
    this.releaseState();
    const masters = await this.#zero.fullParameters();
    this.#gathered = { masters, state: (await this.#zero.stateDict()).state };
  }

  /** Frees what gatherState() gathered. */
  releaseState(): void {
    for (const t of this.#gathered?.masters ?? []) t.dispose();
    for (const s of this.#gathered?.state.values() ?? []) [s.expAvg, s.expAvgSq].forEach((t) => t.dispose());
    this.#gathered = undefined;
  }

  /** The tensors the optimizer updates (fp32 masters under bf16), named as the model's weights: what a checkpoint holds. */
  stateParameters(named: NamedParameter[]): NamedParameter[] {
    const own = this.#ownTensors();
    const weights = this.groups.flatMap((g) => g.params);
    return named.map(([n, p]) => [n, own[weights.indexOf(p)] ?? p]);
  }

  /** AdamW's state of each tensor of stateParameters(). */
  optimizerState(): Map<Tensor, AdamState> {
    const own = this.#ownTensors();
    const state = this.#zero ? this.#gathered!.state : this.optimizer.stateDict().state;
    return new Map([...state].map(([i, s]) => [own[i]!, s]));
  }

  /** Loads AdamW's state of tensors of stateParameters(); then syncWeights(). */
  loadOptimizerState(state: Map<Tensor, AdamState>): void {
    const own = this.#ownTensors();
    const byIndex = new Map([...state].map(([t, s]) => [own.indexOf(t), s]));
    if (this.#zero)
      this.#zero.loadStateDict({
        state: byIndex,
        paramGroups: this.groups.map((g) => ({
          lr: g.lr,
          weightDecay: g.weightDecay,
          betas: this.options.betas,
          eps: this.options.eps,
        })),
      });
    else this.optimizer.loadStateDict({ state: byIndex, paramGroups: this.optimizer.stateDict().paramGroups });
  }

  /** After the optimizer's tensors were loaded: the model's weights (and ZeRO's shards) follow their masters. */
  syncWeights(): void {
    this.#masters?.copyToWeights();
    if (this.#zero) {
      this.#zero.loadParameters(this.#gathered!.masters);
      this.releaseState();
    }
  }

  /** The tensors the optimizer updates, in the groups' order of weights. */
  #ownTensors(): Tensor[] {
    if (this.#zero) {
      if (!this.#gathered)
        throw new Error('Trainer: under ZeRO, gatherState() comes before a checkpoint is saved or loaded');
      return this.#gathered.masters;
    }
    return this.#trainable;
  }

  get done(): boolean {
    return this.step >= this.totalSteps;
  }

  /** lr of each group for the step after `taken` steps. */
  lrsAt(taken: number): number[] {
    const lambda = lrLambda(this.options.scheduler, taken, this.warmup, this.totalSteps);
    return this.#initialLrs.map((lr) => lr * lambda);
  }

  /** One optimizer step: GA micro-batches forward and backward (GA / world on each rank), clip, schedule, AdamW. */
  async trainStep(): Promise<StepMetrics> {
    const group = this.options.group;
    if (group && !this.#parallel && !this.#zero)
      throw new Error('Trainer.trainStep: call connect() first (a process group is set)');
    const started = performance.now();
    const k = this.step + 1;
    const epoch = Math.floor((k - 1) / this.stepsPerEpoch);
    const ga = this.localAccumulation;
    const world = group?.worldSize ?? 1;
    const first = ((k - 1) % this.stepsPerEpoch) * ga;
    const batches: MicroBatch[] = [];
    for (let j = 0; j < ga; j++) batches.push(await this.#microBatch(epoch, first + j));
    manualSeed(stepSeed(this.options.seed, k));
    this.model.train();
    const counts = batches.map(countTargets);
    const local = sumCounts(counts);
    const window = group ? await allReduceSum(group, local) : local;
    let loss = 0;
    const microBatchLosses: number[] = [];
    for (const [j, batch] of batches.entries()) {
      const { targets } = counts[j]!;
      const sync = j === ga - 1;
      if (sync) this.#parallel?.prepareForBackward();
      // The backward scale: DataParallel then averages over the world, so each rank's share counts world times.
      const scale = this.options.lossScaling === 'mean' ? 1 / ga : (world * targets) / window.targets;
      let mean: number;
      try {
        mean = targets === 0 ? this.#emptyBackward(sync) : this.#forwardBackward(batch, scale);
      } catch (err) {
        throw group ? await group.failure('backward (gradient all-reduce)', err as Error) : err;
      }
      await this.#zero?.afterBackward({ sync });
      microBatchLosses.push(mean);
      if (targets > 0) loss = Math.fround(loss + Math.fround((mean * scale) / world));
    }
    if (group) loss = (await allReduceSum(group, { loss })).loss;
    this.#masters?.gradientsToMasters();
    const gradNorm = this.#zero
      ? await this.#zero.clipGradNorm(this.options.maxGradNorm)
      : clipGradNorm(this.#trainable, this.options.maxGradNorm);
    const lrs = this.lrsAt(this.step);
    const skipped = window.targets === 0 || !Number.isFinite(loss) || !Number.isFinite(gradNorm);
    if (skipped) {
      this.nonFiniteStreak += window.targets === 0 ? 0 : 1;
      this.#zero?.zeroGrad();
      if (this.nonFiniteStreak >= this.options.maxNonFiniteSteps) {
        this.optimizer.zeroGrad();
        throw new NonFiniteLossError(
          `step ${k}: loss ${loss}, gradient norm ${gradNorm}: ${this.nonFiniteStreak} steps in a row were not finite (max_non_finite_steps ${this.options.maxNonFiniteSteps}); stopping`,
        );
      }
    } else {
      this.nonFiniteStreak = 0;
      if (this.#zero) {
        this.#zero.setLrs(lrs);
        await this.#zero.step();
      } else {
        this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]!));
        this.optimizer.step();
        this.#masters?.copyToWeights();
      }
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
      tokens: window.tokens,
      targets: window.targets,
      samples: window.samples,
      fullyMaskedSamples: window.fullyMasked,
      skipped,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** Forward and backward of loss · scale; the micro-batch's mean loss. */
  #forwardBackward(batch: MicroBatch, scale: number): number {
    if (this.options.forwardBackward) return this.options.forwardBackward(batch, scale);
    return scope(() => {
      // Only the loss outlives the forward: every other tensor it made goes before backward.
      const out = scope(() => this.model.loss(batch));
      out.mul(scale).backward();
      return out.item();
    });
  }

  /**
   * A micro-batch without targets: its mean is 0/0 and it adds nothing (the reference's NaN would poison the
   * step). On a synced micro-batch the Reducer still needs every gradient: a backward of 0 · Σ weights gives zeros.
   */
  #emptyBackward(sync: boolean): number {
    if (sync && this.#parallel)
      scope(() => {
        const weights = this.groups.flatMap((g) => g.params);
        weights
          .map((w) => w.sum().mul(0))
          .reduce((a, b) => a.add(b))
          .backward();
      });
    return Number.NaN;
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
