// ZeRO stages 1 and 2 (Rajbhandari et al.) over a process group: the trainable parameters are
// seen as one flat vector of N elements, padded to worldSize · S; rank r owns elements
// [r S, (r + 1) S). Gradients are reduce-scattered (averaged) so each rank holds only its shard's,
// AdamW updates the rank's fp32 shard (its moments exist for that shard only: stage 1), and the
// updated shards are all-gathered back into every parameter.
// Stage 2 also partitions gradients across gradient accumulation: every micro-batch's gradients
// are reduce-scattered into the shard and the full .grad freed at once, instead of accumulating
// full gradients until the last micro-batch (stage 1). Within one backward the full gradients
// still exist: this layer has no per-parameter hooks to free them earlier.
import { cat, noGrad, zeros, type Tensor } from '../torch/index.js';
import { AdamW, type AdamWHyper } from '../nn/index.js';
import type { ProcessGroup } from './process-group.js';

export type ZeroStage = 1 | 2;

export class ZeroOptimizer {
  readonly group: ProcessGroup;
  readonly params: Tensor[];
  readonly stage: ZeroStage;
  /** Elements per rank's shard, and over all params (unpadded). */
  readonly shardSize: number;
  readonly numel: number;
  /** This rank's fp32 slice of the flat parameters, the one AdamW updates. */
  readonly #shard: Tensor;
  readonly #optimizer: AdamW;
  #gradShard: Tensor | undefined;

  private constructor(group: ProcessGroup, params: Tensor[], stage: ZeroStage, hyper: Partial<AdamWHyper>) {
    this.group = group;
    this.params = params;
    this.stage = stage;
    this.numel = params.reduce((n, p) => n + p.numel, 0);
    this.shardSize = Math.ceil(this.numel / group.worldSize);
    this.#shard = noGrad(() =>
      this.#flat(params)
        .narrow(0, group.rank * this.shardSize, this.shardSize)
        .to('float32')
        .clone(),
    );
    this.#shard.requiresGrad = true;
    this.#optimizer = new AdamW([this.#shard], hyper);
  }

  /** Broadcasts `params` (same order on every rank) from rank 0, then shards them. */
  static async create(
    group: ProcessGroup,
    params: Tensor[],
    stage: ZeroStage,
    hyper: Partial<AdamWHyper> = {},
  ): Promise<ZeroOptimizer> {
    if (stage !== 1 && stage !== 2) throw new Error(`ZeroOptimizer: stage must be 1 or 2, got ${String(stage)}`);
    await Promise.all(params.map((p) => group.broadcast(p, 0)));
    return new ZeroOptimizer(group, params, stage, hyper);
  }

  get lr(): number {
    return this.#optimizer.paramGroups[0]!.lr;
  }
  set lr(lr: number) {
    this.#optimizer.paramGroups[0]!.lr = lr;
  }

  /** loss.backward(); `sync` marks the last micro-batch of a step (stage 1 reduces only then). */
  async backward(loss: Tensor, { sync = true }: { sync?: boolean } = {}): Promise<void> {
    loss.backward();
    if (sync || this.stage === 2) await this.#reduceGradients();
  }

  /**
   * As clipGradNorm (src/nn) over the full averaged gradients, on the shards: the global 2-norm
   * from every rank's sum of squares; returns the norm before clipping.
   */
  async clipGradNorm(maxNorm: number): Promise<number> {
    const shard = this.#gradShard;
    if (!shard) throw new Error('ZeroOptimizer.clipGradNorm: no gradients: call backward with sync first');
    const squares = noGrad(() => shard.mul(shard).sum().view(1).to('float64'));
    await this.group.allReduce(squares, 'sum');
    const norm = Math.sqrt(squares.item());
    squares.dispose();
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) noGrad(() => shard.mul_(coef));
    return norm;
  }

  /** AdamW on this rank's shard, then every rank's updated shard into every parameter. */
  async step(): Promise<void> {
    if (!this.#gradShard) throw new Error('ZeroOptimizer.step: no gradients: call backward with sync first');
    this.#shard.grad = this.#gradShard;
    this.#optimizer.step();
    this.#shard.grad = undefined;
    this.#gradShard.dispose();
    this.#gradShard = undefined;
    const shards = await this.group.allGather(noGrad(() => this.#shard.detach()));
    noGrad(() => {
      const flat = cat(shards);
      let offset = 0;
      for (const p of this.params) {
        p.copy_(flat.narrow(0, offset, p.numel).view(...p.shape));
        offset += p.numel;
      }
      flat.dispose();
    });
    for (const s of shards) s.dispose();
  }

  /**
   * The optimizer state as one AdamW over `params` holds it (per-parameter moments in params'
   * order, AdamW.stateDict's layout), gathered from every rank's shard: what a checkpoint saves,
   * so a run resumes at any world size, sharded or not. Every rank must call it.
   */
  async stateDict(): Promise<ReturnType<AdamW['stateDict']>> {
    const own = this.#optimizer.stateDict();
    const shardState = own.state.get(0);
    const state: ReturnType<AdamW['stateDict']>['state'] = new Map();
    if (shardState) {
      const [expAvg, expAvgSq] = await Promise.all(
        [shardState.expAvg, shardState.expAvgSq].map(async (m) => this.#split(cat(await this.group.allGather(m)))),
      );
      this.params.forEach((_, i) =>
        state.set(i, { step: shardState.step, expAvg: expAvg![i]!, expAvgSq: expAvgSq![i]! }),
      );
    }
    return { state, paramGroups: own.paramGroups };
  }

  /** Loads a state in AdamW.stateDict's layout over `params` (from any world size): this rank keeps its shard. */
  loadStateDict(dict: ReturnType<AdamW['stateDict']>): void {
    const saved = this.params.map((_, i) => dict.state.get(i));
    if (saved.every((s) => s === undefined)) return this.#optimizer.loadStateDict({ ...dict, state: new Map() });
    const missing = saved.findIndex((s) => s === undefined);
    if (missing >= 0)
      throw new Error(`ZeroOptimizer.loadStateDict: no state for parameter ${missing} of ${this.params.length}`);
    const shardOf = (moments: Tensor[]) =>
      noGrad(() =>
        this.#flat(moments)
          .narrow(0, this.group.rank * this.shardSize, this.shardSize)
          .to('float32')
          .clone(),
      );
    const step = saved[0]!.step;
    const expAvg = shardOf(saved.map((s) => s!.expAvg));
    const expAvgSq = shardOf(saved.map((s) => s!.expAvgSq));
    this.#optimizer.loadStateDict({ paramGroups: dict.paramGroups, state: new Map([[0, { step, expAvg, expAvgSq }]]) });
  }

  /** A flat [worldSize · shardSize] tensor cut into tensors of the params' shapes (padding dropped). */
  #split(flat: Tensor): Tensor[] {
    let offset = 0;
    return this.params.map((p) => {
      const t = flat
        .narrow(0, offset, p.numel)
        .view(...p.shape)
        .clone();
      offset += p.numel;
      return t;
    });
  }

  /** The params' flat concatenation, zero-padded to worldSize · shardSize. */
  #flat(tensors: Tensor[]): Tensor {
    const pad = this.shardSize * this.group.worldSize - this.numel;
    const flats = tensors.map((t) => t.detach().flatten());
    return cat(pad > 0 ? [...flats, zeros([pad], { dtype: tensors[0]!.dtype })] : flats);
  }

  /** Reduce-scatters (averages) the params' .grad into this rank's gradient shard; frees the .grad. */
  async #reduceGradients(): Promise<void> {
    const grads = this.params.map((p) => p.grad ?? zeros(p.shape, { dtype: p.dtype }));
    const flat = noGrad(() => this.#flat(grads).to('float32'));
    for (const p of this.params) p.grad = undefined;
    const reduced = await this.group.reduceScatter(flat, 'avg');
    flat.dispose();
    if (this.#gradShard) {
      this.#gradShard.add_(reduced);
      reduced.dispose();
    } else this.#gradShard = reduced;
  }
}
