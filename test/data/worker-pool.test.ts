// A data worker that dies while preparing an item (process.exit, an uncaught error, its heap limit) fails that item
// with an error naming the worker and the cause, a new worker serves the next items, and a DataLoader epoch over
// the pool fails with that error: nothing waits forever (each test has a timeout, so a hang fails it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SupervisedDataset } from '../../src/data/supervised-dataset.js';
import { WorkerPool } from '../../src/data/worker-pool.js';
import { DataLoader } from '../../src/data/loader.js';
import { goldenRoot } from '../helpers/golden.js';
import { tempDir } from '../helpers/text-images.js';

const root = tempDir('llava-pool-');
const tokenizerDir = join(goldenRoot, 'llava_preprocess', 'tokenizer'); // LLaMA's tokenizer.model
after(() => {
  rmSync(root, { recursive: true, force: true });
});

const ids = ['ok-0', 'exit', 'ok-2', 'throw', 'ok-4', 'oom'];
const record = (id: string) => ({
  id,
  conversations: [
    { from: 'human', value: `What is ${id}?` },
    { from: 'gpt', value: `It is ${id}.` },
  ],
});

async function open(): Promise<SupervisedDataset> {
  const dataPath = join(root, 'data.json');
  writeFileSync(dataPath, JSON.stringify(ids.map(record)));
  return SupervisedDataset.open({ dataPath, tokenizerDir, version: 'v1' });
}

const script = new URL('./crashing-item-worker.js', import.meta.url);
const limits = { maxOldGenerationSizeMb: 64 };

test(
  'a worker that exits, throws or runs out of memory fails its item by name and is replaced',
  { timeout: 120_000 },
  async () => {
    const ds = await open();
    const pool = new WorkerPool(ds, 1, { script, resourceLimits: limits });
    try {
      const expectItem = async (i: number) => {
        const [item, local] = await Promise.all([pool.get(i), ds.get(i)]);
        assert.deepEqual(item, local);
      };
      await expectItem(0);
      await assert.rejects(pool.get(1), {
        message: 'data worker 0 exited with code 3 while preparing item 1; a new worker takes its place',
      });
      await expectItem(2); // served by the replacement
      await assert.rejects(pool.get(3), {
        message: 'data worker 0 crashed (a bug in the worker) while preparing item 3; a new worker takes its place',
      });
      await expectItem(4);
      await assert.rejects(pool.get(5), {
        message:
          'data worker 0 crashed (Worker terminated due to reaching memory limit: JS heap out of memory) while preparing item 5; a new worker takes its place',
      });
      await expectItem(0);
    } finally {
      await pool.close();
      ds.close();
    }
  },
);

test(
  'requests queued behind a dying worker fail too; the other workers keep serving',
  { timeout: 120_000 },
  async () => {
    const ds = await open();
    const pool = new WorkerPool(ds, 2, { script, resourceLimits: limits });
    try {
      // Round-robin: requests 0, 2 and 4 go to worker 0, which dies at the first (item 1); 1 and 3 go to worker 1.
      const results = await Promise.allSettled([1, 0, 2, 2, 4].map((i) => pool.get(i)));
      assert.deepEqual(
        results.map((r) => r.status),
        ['rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected'],
      );
      for (const [k, i] of [
        [0, 1],
        [2, 2],
        [4, 4],
      ] as const)
        assert.equal(
          (results[k] as PromiseRejectedResult).reason.message,
          `data worker 0 exited with code 3 while preparing item ${i}; a new worker takes its place`,
        );
      assert.equal((await pool.get(4)).id, 'ok-4'); // request 5: worker 1
      assert.equal((await pool.get(2)).id, 'ok-2'); // request 6: worker 0's replacement
    } finally {
      await pool.close();
      ds.close();
    }
    await assert.rejects(pool.get(0), { message: 'data worker pool is closed (asked for item 0)' });
  },
);

test('closing the pool fails the items still being prepared', { timeout: 120_000 }, async () => {
  const ds = await open();
  const pool = new WorkerPool(ds, 1, { script });
  const pending = pool.get(2); // asked in the same tick as close(), which stops the worker while it starts
  await pool.close();
  await assert.rejects(pending, { message: 'data worker pool was closed while preparing item 2' });
  ds.close();
});

test('a DataLoader epoch over the pool fails with the crash, it does not hang', { timeout: 120_000 }, async () => {
  const ds = await open();
  const pool = new WorkerPool(ds, 2, { script, resourceLimits: limits });
  try {
    const loader = new DataLoader(pool, { batchSize: 2, seed: 0 });
    await assert.rejects(async () => {
      for await (const _batch of loader.epoch(0));
    }, /^Error: data worker \d (exited with code 3|crashed \(.*\)) while preparing item \d; a new worker takes its place$/);
  } finally {
    await pool.close();
    ds.close();
  }
});
