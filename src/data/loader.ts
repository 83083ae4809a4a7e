// Batches for training: the epoch's seeded order (plain or grouped by length and modality), this rank's share of
// it, items fetched concurrently (in-process or from a worker pool), bad samples raised or skipped and reported,
// then collated. Step k of an epoch depends only on (seed, epoch, k), so `start` resumes a run exactly.
import { collate, type Batch } from './collate.js';
import type { BadInputPolicy } from './instruction-index.js';
import { SampleError } from './sample.js';
import { epochOrder } from './sampler.js';
import type { Item } from './supervised-dataset.js';

/** What the loader needs from a dataset: SupervisedDataset or a WorkerPool over one. */
export interface ItemSource {
  readonly size: number;
  readonly lengths: ArrayLike<number>;
  readonly padTokenId: number;
  readonly modelMaxLength: number;
  get(i: number): Promise<Item>;
}

export interface LoaderOptions {
  /** Per-device batch size. */
  batchSize: number;
  seed: number;
  groupByModalityLength?: boolean;
  gradientAccumulationSteps?: number;
  worldSize?: number;
  rank?: number;
  paddingSide?: 'right' | 'left';
  /** A sample whose image or text is bad: stop with its error (default) or leave it out of its batch and report it. */
  onBadSample?: BadInputPolicy;
  /** Batches fetched ahead of the one being consumed. */
  prefetch?: number;
}

export interface LoadedBatch {
  batch: Batch;
  epoch: number;
  /** This batch's step within the epoch; resume with start = step + 1. */
  step: number;
  /** Dataset indices of the batch's rows, in order. */
  indices: number[];
  ids: string[];
  /** Per row: 1 if the sample has a real image (else its pixel values are the zero image, or absent). */
  hasImage: Uint8Array;
}

export interface LoaderReport {
  skipped: { index: number; reason: string }[];
  /** Samples the reference's length check masked entirely. */
  mismatches: { index: number; id: string; curLen: number; totalLen: number }[];
}

export class DataLoader {
  readonly report: LoaderReport = { skipped: [], mismatches: [] };

  constructor(
    private readonly source: ItemSource,
    private readonly options: LoaderOptions,
  ) {
    const { batchSize, worldSize = 1, rank = 0 } = options;
    if (!(Number.isInteger(batchSize) && batchSize > 0))
      throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    if (!(rank >= 0 && rank < worldSize)) throw new Error(`rank ${rank} is outside 0..${worldSize - 1}`);
  }

  /** Steps per epoch on this rank (the last, short batch included). */
  get stepsPerEpoch(): number {
    const world = this.options.worldSize ?? 1;
    return Math.ceil(this.source.size / (this.options.batchSize * world));
  }

  async *epoch(epoch: number, start = 0): AsyncGenerator<LoadedBatch> {
    const { batchSize, worldSize = 1, rank = 0, prefetch = 2 } = this.options;
    const order = epochOrder(this.source.lengths, epoch, {
      seed: this.options.seed,
      groupByModalityLength: this.options.groupByModalityLength,
      batchSize: batchSize * (this.options.gradientAccumulationSteps ?? 1),
      worldSize,
    });
    const stepIndices = (step: number) =>
      order.slice((step * worldSize + rank) * batchSize, (step * worldSize + rank + 1) * batchSize);
    const pending = new Map<number, Promise<(Item | null)[]>>();
    const fetch = (step: number) => {
      if (step >= this.stepsPerEpoch || pending.has(step)) return;
      const items = Promise.all(stepIndices(step).map((i) => this.fetchItem(i)));
      items.catch(() => {}); // a prefetched step's error surfaces when that step is awaited, not as an unhandled rejection
      pending.set(step, items);
    };
    for (let step = start; step < this.stepsPerEpoch; step++) {
      for (let k = step; k <= step + prefetch; k++) fetch(k);
      const items = (await pending.get(step)!).filter((x): x is Item => x !== null);
      pending.delete(step);
      if (items.length === 0) continue;
      for (const item of items) {
        if (item.mismatch) this.report.mismatches.push({ index: item.index, id: item.id, ...item.mismatch });
      }
      const batch = collate(items, {
        padTokenId: this.source.padTokenId,
        maxLength: this.source.modelMaxLength,
        paddingSide: this.options.paddingSide,
      });
      yield {
        batch,
        epoch,
        step,
        indices: items.map((x) => x.index),
        ids: items.map((x) => x.id),
        hasImage: Uint8Array.from(items, (x) => (x.hasImage ? 1 : 0)),
      };
    }
  }

  private async fetchItem(i: number): Promise<Item | null> {
    try {
      return await this.source.get(i);
    } catch (err) {
      if (this.options.onBadSample !== 'skip' || !(err instanceof SampleError)) throw err;
      this.report.skipped.push({ index: i, reason: err.message });
      return null;
    }
  }
}
