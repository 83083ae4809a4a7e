// Decoding, preprocessing and tokenisation on worker threads: each worker holds its own copy of the dataset
// (tokenizer, processor, file descriptor) and requests go round-robin. Same interface as SupervisedDataset.
import { Worker } from 'node:worker_threads';
import { SampleError } from './sample.js';
import type { ItemSource } from './loader.js';
import type { Item, SupervisedDataset } from './supervised-dataset.js';

type Reply = { id: number; item?: Item; error?: { sample: boolean; where?: string; message: string } };

export class WorkerPool implements ItemSource {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (item: Item) => void; reject: (err: Error) => void }>();
  private nextId = 0;
  readonly size: number;
  readonly lengths: Int32Array;
  readonly padTokenId: number;
  readonly modelMaxLength: number;

  /** Workers that rebuild `dataset` from its options and index (the file is not re-indexed). */
  constructor(dataset: SupervisedDataset, threads: number) {
    if (!(Number.isInteger(threads) && threads > 0))
      throw new Error(`worker threads must be a positive integer, got ${threads}`);
    this.size = dataset.size;
    this.lengths = dataset.lengths;
    this.padTokenId = dataset.padTokenId;
    this.modelMaxLength = dataset.modelMaxLength;
    const workerData = { options: dataset.options, index: dataset.index };
    this.workers = Array.from({ length: threads }, () => {
      const w = new Worker(new URL('./item-worker.js', import.meta.url), { workerData });
      w.on('message', (reply: Reply) => this.settle(reply));
      w.on('error', (err) => this.failAll(err));
      return w;
    });
  }

  get(i: number): Promise<Item> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.workers[id % this.workers.length]!.postMessage({ id, i });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private settle(reply: Reply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (reply.item) waiter.resolve(reply.item);
    else if (reply.error!.sample)
      waiter.reject(new SampleError(reply.error!.where!, reply.error!.message.slice(reply.error!.where!.length + 2)));
    else waiter.reject(new Error(`data worker: ${reply.error!.message}`));
  }

  private failAll(err: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(new Error(`data worker crashed: ${err.message}`));
    this.waiting.clear();
  }
}
