// ZeRO stages 1 and 2 (Rajbhandari et al.) over a process group: the trainable parameters are
// seen as one flat vector of N elements, padded to worldSize · S; rank r owns elements
// [r S, (r + 1) S). Gradients are reduce-scattered (averaged) so each rank holds only its shard's,
// AdamW updates the rank's fp32 shard (its moments exist for that shard only: stage 1), and the
// updated shards are all-gathered back into every parameter.
// Stage 2 also partitions gradients across gradient accumulation: every micro-batch's gradients
// are reduce-scattered into the shard and the full .grad freed at once, instead of accumulating
// full gradients until the last micro-batch (stage 1). Within one backward the full gradients
// still exist: this layer has no per-parameter hooks to free them earlier.
// Parameter groups (their own lr and weight decay, e.g. LLaVA's projector lr and no decay on norms) lie one after
// the other in the flat vector: the part of the rank's shard that falls in each group is a view of the shard that
// AdamW updates with that group's hyperparameters.
import { cat, noGrad, tensor, zeros, type Tensor } from '../torch/index.js';
import { ADAMW_DEFAULTS, AdamW, type AdamWHyper, type ParamGroup } from '../nn/index.js';
import type { ProcessGroup } from './process-group.js';

export type ZeroStage = 1 | 2;
type AdamWState = ReturnType<AdamW['stateDict']>;

/** The part of this rank's shard in one parameter group: shard elements [offset, offset + size). */
type Piece = { group: number; offset: number; size: number; view: Tensor };

export class ZeroOptimizer {
  readonly group: ProcessGroup;
  /** Every group's params, in order: the flat vector's layout and the state dict's indices. */
  readonly params: Tensor[];
  readonly stage: ZeroStage;
  /** Elements per rank's shard, and over all params (unpadded). */
  readonly shardSize: number;
  readonly numel: number;
  /** This rank's fp32 slice of the flat parameters, the one AdamW updates (through the pieces' views). */
  readonly #shard: Tensor;
  readonly #pieces: Piece[];
  /** Each group's hyperparameters, as one AdamW over the params would hold them. */
  readonly #hyper: AdamWHyper[];
  readonly #optimizer: AdamW;
  #gradShard: Tensor | undefined;

  private constructor(group: ProcessGroup, groups: ParamGroup[], stage: ZeroStage, hyper: Partial<AdamWHyper>) {
    this.group = group;
    this.params = groups.flatMap((g) => g.params);
    this.stage = stage;
    this.numel = this.params.reduce((n, p) => n + p.numel, 0);
    this.shardSize = Math.ceil(this.numel / group.worldSize);
    const from = group.rank * this.shardSize;
    this.#shard = noGrad(() => this.#flat(this.params).narrow(0, from, this.shardSize).to('float32').clone());
    this.#pieces = [];
    let start = 0;
    groups.forEach((g, i) => {
      const end = start + g.params.reduce((n, p) => n + p.numel, 0);
      const [a, b] = [Math.max(start, from), Math.min(end, from + this.shardSize)];
      if (b > a)
        this.#pieces.push({ group: i, offset: a - from, size: b - a, view: this.#shard.narrow(0, a - from, b - a) });
      start = end;
    });
    this.#hyper = groups.map(({ params: _params, ...own }) => ({ ...ADAMW_DEFAULTS, ...hyper, ...own }));
    this.#optimizer = new AdamW(this.#pieces.map((piece) => ({ ...this.#hyper[piece.group]!, params: [piece.view] })));
  }

  /**
   * Broadcasts the params (same order on every rank) from rank 0, then shards them. `params`: tensors, or groups
   * that override lr / weightDecay as AdamW's do.
   */
  static async create(
    group: ProcessGroup,
    params: Tensor[] | ParamGroup[],
    stage: ZeroStage,
    hyper: Partial<AdamWHyper> = {},
  ): Promise<ZeroOptimizer> {
    if (stage !== 1 && stage !== 2) throw new Error(`ZeroOptimizer: stage must be 1 or 2, got ${String(stage)}`);
    const groups: ParamGroup[] =
      params.length > 0 && 'params' in (params[0] as object)
        ? (params as ParamGroup[])
        : [{ params: params as Tensor[] }];
    await Promise.all(groups.flatMap((g) => g.params).map((p) => broadcastExact(group, p)));
    return new ZeroOptimizer(group, groups, stage, hyper);
  }

  /** The lr of every group (as given to create), for the step after. */
  setLrs(lrs: number[]): void {
    lrs.forEach((lr, g) => (this.#hyper[g]!.lr = lr));
    this.#optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[this.#pieces[i]!.group]!));
  }

  /** loss.backward(); `sync` marks the last micro-batch of a step (stage 1 reduces only then). */
  async backward(loss: Tensor, { sync = true }: { sync?: boolean } = {}): Promise<void> {
    loss.backward();
    await this.afterBackward({ sync });
  }

  /** After a backward run elsewhere (a trainer's own forward-backward): the gradients into the shards. */
  async afterBackward({ sync = true }: { sync?: boolean } = {}): Promise<void> {
    if (sync || this.stage === 2) await this.#reduceGradients();
  }

  /** Drops the reduced gradients (a step that is skipped). */
  zeroGrad(): void {
    this.#gradShard?.dispose();
    this.#gradShard = undefined;
    for (const p of this.params) p.grad = undefined;
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
    const gradShard = this.#gradShard;
    if (!gradShard) throw new Error('ZeroOptimizer.step: no gradients: call backward with sync first');
    for (const piece of this.#pieces) piece.view.grad = gradShard.narrow(0, piece.offset, piece.size);
    this.#optimizer.step();
    gradShard.dispose();
    this.#gradShard = undefined;
    const full = await this.fullParameters();
    noGrad(() => this.params.forEach((p, i) => p.copy_(full[i]!)));
    for (const t of full) t.dispose();
  }

  /** Every param's fp32 value (the masters under bf16), gathered from the shards. Every rank must call it. */
  async fullParameters(): Promise<Tensor[]> {
    const shards = await this.group.allGather(this.#shard);
    const flat = cat(shards);
    for (const s of shards) s.dispose();
    const split = this.#split(flat);
    flat.dispose();
    return split;
  }

  /** Sets the shard from every param's full value (fp32 masters from a checkpoint), and the params from them. */
  loadParameters(values: Tensor[]): void {
    noGrad(() => {
      this.#shard.copy_(this.#flat(values).narrow(0, this.group.rank * this.shardSize, this.shardSize));
      this.params.forEach((p, i) => p.copy_(values[i]!));
    });
  }

  /**
   * The optimizer state as one AdamW over the params holds it (per-parameter moments in params'
   * order, AdamW.stateDict's layout), gathered from every rank's shard: what a checkpoint saves,
   * so a run resumes at any world size, sharded or not. Every rank must call it.
   */
  async stateDict(): Promise<AdamWState> {
    const own = this.#optimizer.stateDict();
    // Every rank has stepped as often; a rank whose shard is all padding has no state of its own.
    const counter = tensor(Float64Array.of(own.state.get(0)?.step ?? 0), [1]);
    await this.group.allReduce(counter, 'max');
    const step = counter.item();
    counter.dispose();
    const state: AdamWState['state'] = new Map();
    if (step > 0) {
      const moment = (key: 'expAvg' | 'expAvgSq') =>
        noGrad(() => {
          const flat = zeros([this.shardSize], { dtype: 'float32' });
          this.#pieces.forEach((piece, i) => {
            const s = own.state.get(i);
            if (s) flat.narrow(0, piece.offset, piece.size).copy_(s[key]);
          });
          return flat;
        });
      const [expAvg, expAvgSq] = await Promise.all(
        (['expAvg', 'expAvgSq'] as const).map(async (key) => {
          const local = moment(key);
          const gathered = await this.group.allGather(local);
          local.dispose();
          return this.#split(cat(gathered));
        }),
      );
      this.params.forEach((_, i) => state.set(i, { step, expAvg: expAvg![i]!, expAvgSq: expAvgSq![i]! }));
    }
    return { state, paramGroups: this.#hyper.map((h) => ({ ...h })) };
  }

  /** Loads a state in AdamW.stateDict's layout over the params (from any world size): this rank keeps its shard. */
  loadStateDict(dict: AdamWState): void {
    if (dict.paramGroups.length !== this.#hyper.length)
      throw new Error(
        `ZeroOptimizer.loadStateDict: saved state has ${dict.paramGroups.length} parameter groups, this optimizer ${this.#hyper.length}`,
      );
    dict.paramGroups.forEach((h, g) => Object.assign(this.#hyper[g]!, h));
    const paramGroups = this.#pieces.map((piece) => dict.paramGroups[piece.group]!);
    const saved = this.params.map((_, i) => dict.state.get(i));
    if (saved.every((s) => s === undefined)) return this.#optimizer.loadStateDict({ paramGroups, state: new Map() });
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
    const state: AdamWState['state'] = new Map();
    this.#pieces.forEach((piece, i) =>
      state.set(i, {
        step,
        expAvg: expAvg.narrow(0, piece.offset, piece.size).clone(),
        expAvgSq: expAvgSq.narrow(0, piece.offset, piece.size).clone(),
      }),
    );
    expAvg.dispose();
    expAvgSq.dispose();
    this.#optimizer.loadStateDict({ paramGroups, state });
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

/** Rank 0's `p` on every rank; bf16 / fp16 travel as fp32 (exact), which Gloo's collectives have and bf16 not. */
async function broadcastExact(group: ProcessGroup, p: Tensor): Promise<void> {
  if (p.dtype === 'float32') return group.broadcast(p, 0);
  const wide = noGrad(() => p.detach().to('float32'));
  await group.broadcast(wide, 0);
  noGrad(() => p.copy_(wide));
  wide.dispose();
}
