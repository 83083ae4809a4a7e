// Decoding, preprocessing and tokenisation on worker threads: each worker holds its own copy of the dataset
// (tokenizer, processor, file descriptor) and requests go round-robin. Same interface as SupervisedDataset.
// A worker that dies (process.exit, an uncaught error, its heap limit) fails the items it was preparing with an
// error naming it and the cause, and a fresh worker takes its place for the next items: nothing waits forever.
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { SampleError } from './sample.js';
import type { ItemSource } from './loader.js';
import type { Item, SupervisedDataset } from './supervised-dataset.js';

type Reply = { id: number; item?: Item; error?: { sample: boolean; where?: string; message: string } };
type Waiter = { i: number; resolve: (item: Item) => void; reject: (err: Error) => void };

export interface WorkerPoolOptions {
  /** Each worker's V8 limits (e.g. maxOldGenerationSizeMb): a sample that outgrows them fails, not the machine. */
  resourceLimits?: ResourceLimits;
  /** The worker module; item-worker.js unless a test substitutes one. */
  script?: URL;
}

/** One worker and the requests it holds. A slot whose worker died gets a new one at its next request. */
class Slot {
  worker: Worker | null = null;
  readonly waiting = new Map<number, Waiter>();
  cause: Error | undefined; // the 'error' event that precedes a crash's 'exit'
}

export class WorkerPool implements ItemSource {
  private readonly slots: Slot[];
  private readonly workerData: unknown;
  private nextId = 0;
  private closed = false;
  readonly size: number;
  readonly lengths: Int32Array;
  readonly padTokenId: number;
  readonly modelMaxLength: number;

  /** Workers that rebuild `dataset` from its options and index (the file is not re-indexed). */
  constructor(
    dataset: SupervisedDataset,
    threads: number,
    private readonly options: WorkerPoolOptions = {},
  ) {
    if (!(Number.isInteger(threads) && threads > 0))
      throw new Error(`worker threads must be a positive integer, got ${threads}`);
    this.size = dataset.size;
    this.lengths = dataset.lengths;
    this.padTokenId = dataset.padTokenId;
    this.modelMaxLength = dataset.modelMaxLength;
    this.workerData = { options: dataset.options, index: dataset.index };
    this.slots = Array.from({ length: threads }, () => new Slot());
    for (const [k, slot] of this.slots.entries()) this.start(slot, k);
  }

  get(i: number): Promise<Item> {
    if (this.closed) return Promise.reject(new Error(`data worker pool is closed (asked for item ${i})`));
    const id = this.nextId++;
    const k = id % this.slots.length;
    const slot = this.slots[k]!;
    const worker = slot.worker ?? this.start(slot, k);
    return new Promise((resolve, reject) => {
      slot.waiting.set(id, { i, resolve, reject });
      worker.postMessage({ id, i });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
    // lost() ignores the exits close() causes: what the workers still held fails here.
    for (const slot of this.slots) this.fail(slot, (i) => `data worker pool was closed while preparing item ${i}`);
  }

  private start(slot: Slot, k: number): Worker {
    const script = this.options.script ?? new URL('./item-worker.js', import.meta.url);
    const w = new Worker(script, { workerData: this.workerData, resourceLimits: this.options.resourceLimits });
    slot.worker = w;
    slot.cause = undefined;
    w.on('message', (reply: Reply) => this.settle(slot, reply));
    w.on('error', (err) => (slot.cause = err));
    w.on('exit', (code) => this.lost(slot, k, code));
    return w;
  }

  private settle(slot: Slot, reply: Reply): void {
    const waiter = slot.waiting.get(reply.id);
    if (!waiter) return;
    slot.waiting.delete(reply.id);
    if (reply.item) waiter.resolve(reply.item);
    else if (reply.error!.sample)
      waiter.reject(new SampleError(reply.error!.where!, reply.error!.message.slice(reply.error!.where!.length + 2)));
    else waiter.reject(new Error(`data worker: ${reply.error!.message}`));
  }

  // A worker is gone: what it was preparing fails, by name; the slot restarts at its next request.
  private lost(slot: Slot, k: number, code: number): void {
    slot.worker = null;
    if (this.closed) return; // close() fails what is left
    const how = slot.cause ? `crashed (${slot.cause.message})` : `exited with code ${code}`;
    this.fail(slot, (i) => `data worker ${k} ${how} while preparing item ${i}; a new worker takes its place`);
  }

  private fail(slot: Slot, message: (i: number) => string): void {
    for (const waiter of slot.waiting.values()) waiter.reject(new Error(message(waiter.i)));
    slot.waiting.clear();
  }
}
