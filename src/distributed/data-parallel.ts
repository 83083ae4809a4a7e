// Data parallel training over a process group, on c10d's own DDP Reducer: parameters start as
// rank 0's; gradients are averaged over the ranks in buckets that the Reducer's autograd hooks
// all-reduce while backward still runs. Gradient accumulation syncs only on the last micro-batch:
// the others accumulate locally into .grad and the last one's buckets carry the sum.
import type { Tensor } from '../torch/index.js';
import { c10d, type ReducerHandle } from './c10d-native.js';
import type { ProcessGroup } from './process-group.js';

/** PyTorch DDP's default bucket size: 25 MiB. */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

export type DataParallelOptions = { bucketBytes?: number };

export class DataParallel {
  readonly group: ProcessGroup;
  readonly params: Tensor[];
  readonly #reducer: ReducerHandle;

  private constructor(group: ProcessGroup, params: Tensor[], reducer: ReducerHandle) {
    this.group = group;
    this.params = params;
    this.#reducer = reducer;
  }

  /**
   * Broadcasts `params` (the trainable ones, in a fixed order that is the same on every rank) from
   * rank 0, then hooks their gradients. Every param must get a gradient in each synced backward.
   */
  static async create(group: ProcessGroup, params: Tensor[], options: DataParallelOptions = {}): Promise<DataParallel> {
    await Promise.all(params.map((p) => group.broadcast(p, 0)));
    const reducer = c10d.c10dReducer(
      group.handle,
      params.map((p) => p.handle),
      options.bucketBytes ?? DEFAULT_BUCKET_BYTES,
    );
    return new DataParallel(group, params, reducer);
  }

  /**
   * Arms the Reducer for the next backward, whoever runs it (a trainer's own forward-backward): its
   * gradients are then averaged over the ranks. Skip it on the micro-batches before a step's last.
   */
  prepareForBackward(): void {
    c10d.c10dPrepareBackward(this.#reducer);
  }

  /**
   * loss.backward(); with `sync` (the last micro-batch of a step) the params' .grad end as the
   * average over ranks of each rank's accumulated gradient, else they stay local. Async only so
   * that a failed bucket all-reduce can name the ranks that are gone (ProcessGroup.failure).
   */
  async backward(loss: Tensor, { sync = true }: { sync?: boolean } = {}): Promise<void> {
    if (!sync) return loss.backward();
    this.prepareForBackward();
    try {
      loss.backward();
    } catch (err) {
      throw await this.group.failure('backward (gradient all-reduce)', err as Error);
    }
  }
}
