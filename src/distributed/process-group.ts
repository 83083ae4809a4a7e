// A c10d process group (TCPStore rendezvous + Gloo) with PyTorch's collectives. Each collective
// returns a Promise that settles when c10d's work completes; the JS thread stays free meanwhile.
// A collective that fails asks the group's heartbeats which ranks are gone and names them.
import { empty, type Tensor } from '../torch/index.js';
import { c10d, type GroupHandle, type ReduceOp } from './c10d-native.js';
import { rendezvousFromEnv, type Rendezvous } from './env.js';

export type { ReduceOp } from './c10d-native.js';

/** PyTorch's default process-group timeout: 30 minutes. */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
/** How long a failed collective watches the heartbeats (native: one every 250 ms) before naming the silent ranks. */
const DEAD_RANK_WINDOW_MS = 1500;

export type GroupOptions = {
  /** Limit of the rendezvous and of every collective unless one passes its own. */
  timeoutMs?: number;
};

/** A collective failed because other ranks are gone: `deadRanks` names them. */
export class RankFailureError extends Error {
  constructor(
    message: string,
    readonly deadRanks: number[],
  ) {
    super(message);
    this.name = 'RankFailureError';
  }
}

export class ProcessGroup {
  readonly #handle: GroupHandle;
  readonly rank: number;
  readonly worldSize: number;
  readonly timeoutMs: number;

  private constructor(handle: GroupHandle, rank: number, worldSize: number, timeoutMs: number) {
    this.#handle = handle;
    this.rank = rank;
    this.worldSize = worldSize;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Joins the rendezvous (rank 0 serves the TCPStore at masterAddr:masterPort and waits for all
   * worldSize ranks) within timeoutMs; rejects with a message naming the address, rank and world.
   */
  static async init(r: Rendezvous, options: GroupOptions = {}): Promise<ProcessGroup> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const handle = await c10d.c10dInit(r.masterAddr, r.masterPort, r.rank, r.worldSize, timeoutMs);
    return new ProcessGroup(handle, r.rank, r.worldSize, timeoutMs);
  }

  /** init() with torchrun's MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK. */
  static fromEnv(options: GroupOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<ProcessGroup> {
    return ProcessGroup.init(rendezvousFromEnv(env), options);
  }

  /** In place: every rank's `t` becomes the reduction of all ranks' `t`. */
  allReduce(t: Tensor, op: ReduceOp = 'sum', timeoutMs = this.timeoutMs): Promise<void> {
    return this.#collective('allReduce', c10d.c10dAllReduce(this.#handle, [t.handle], op, timeoutMs));
  }

  /** In place: every rank's `t` becomes rank `root`'s. */
  broadcast(t: Tensor, root = 0, timeoutMs = this.timeoutMs): Promise<void> {
    return this.#collective('broadcast', c10d.c10dBroadcast(this.#handle, [t.handle], root, timeoutMs));
  }

  /** Every rank's `input`, in rank order (each of input's shape and dtype). */
  async allGather(input: Tensor, timeoutMs = this.timeoutMs): Promise<Tensor[]> {
    const outputs = Array.from({ length: this.worldSize }, () => empty(input.shape, { dtype: input.dtype }));
    const handles = outputs.map((o) => o.handle);
    await this.#collective('allGather', c10d.c10dAllGather(this.#handle, handles, input.handle, timeoutMs));
    return outputs;
  }

  /**
   * `input` (contiguous, worldSize · n elements) seen as worldSize chunks of n: rank r gets the
   * reduction ('sum' or 'avg') of every rank's chunk r, as a flat [n] tensor.
   */
  async reduceScatter(input: Tensor, op: 'sum' | 'avg' = 'sum', timeoutMs = this.timeoutMs): Promise<Tensor> {
    if (input.numel % this.worldSize !== 0)
      throw new Error(
        `reduceScatter: input of [${input.shape}] (${input.numel} elements) does not split into ${this.worldSize} equal chunks`,
      );
    const output = empty([input.numel / this.worldSize], { dtype: input.dtype });
    await this.#collective(
      'reduceScatter',
      c10d.c10dReduceScatter(this.#handle, output.handle, input.handle, op, timeoutMs),
    );
    return output;
  }

  /** Settles once every rank has reached it. */
  barrier(timeoutMs = this.timeoutMs): Promise<void> {
    return this.#collective('barrier', c10d.c10dBarrier(this.#handle, timeoutMs));
  }

  /** Leaves the group: the heartbeat stops and the native group is released. */
  close(): void {
    c10d.c10dClose(this.#handle);
  }

  /** The native handle, for the Reducer (data-parallel.ts). */
  get handle(): GroupHandle {
    return this.#handle;
  }

  async #collective(name: string, done: Promise<void>): Promise<void> {
    try {
      await done;
    } catch (err) {
      throw await this.failure(name, err as Error);
    }
  }

  /** The error for a failed collective: naming the ranks whose heartbeat stopped, when some did. */
  async failure(name: string, err: Error): Promise<Error> {
    const dead = await c10d.c10dDeadRanks(this.#handle, DEAD_RANK_WINDOW_MS).catch(() => [] as number[]);
    // Rank 0 serves the store the others are reading heartbeats from: it stays one more window.
    if (this.rank === 0) await new Promise((resolve) => setTimeout(resolve, DEAD_RANK_WINDOW_MS));
    if (dead.length === 0) return new Error(`${name} failed on rank ${this.rank}: ${err.message}`, { cause: err });
    const who = dead.length === 1 ? `rank ${dead[0]} is` : `ranks ${dead.join(', ')} are`;
    const why = dead.includes(0)
      ? 'no heartbeat, or the rendezvous store rank 0 serves stopped answering'
      : 'no heartbeat';
    return new RankFailureError(`${name} failed on rank ${this.rank}: ${who} gone (${why}): ${err.message}`, dead);
  }
}
