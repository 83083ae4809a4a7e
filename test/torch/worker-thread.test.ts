// The addon keeps its state per Node environment, so worker threads may load it: each computes with its own
// operator table and handle count, and the main thread keeps working while they run and after they exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import * as T from '../../src/torch/index.js';

const torchIndex = new URL('../../src/torch/index.js', import.meta.url).href;

// A worker that loads the Tensor API, resolves operators in its own order, leaves some tensors undisposed (freed when
// its environment goes) and reports [[1, 2], [3, 4]] @ [[1, 2], [3, 4]] and its live handle count.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.torchIndex).then((T) => {
  const before = T.liveTensorCount();
  const shared = new Float32Array([1, 2, 3, 4]);
  const x = T.tensor(shared, [2, 2]);
  const sorted = T.tensor(new Float32Array([3, 1, 2])).sort().values.toTypedArray();
  const product = Array.from(x.matmul(x).toTypedArray());
  const y = x.mul(workerData.k);
  parentPort.postMessage({ before, product, sorted: Array.from(sorted), y: Array.from(y.toTypedArray()) });
});
`;

function runWorker(k: number): Promise<{ before: number; product: number[]; sorted: number[]; y: number[] }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerSource, { eval: true, workerData: { torchIndex, k } });
    let reply: unknown;
    w.on('message', (m) => (reply = m));
    w.on('error', reject);
    w.on('exit', (code) =>
      code === 0 && reply ? resolve(reply as never) : reject(new Error(`worker exited ${code}`)),
    );
  });
}

test('worker threads load the addon and compute, each with its own state, beside the main thread', async () => {
  const a = T.tensor(new Float32Array([1, 2, 3]));
  const mainLive = T.liveTensorCount();
  const results = await Promise.all([runWorker(2), runWorker(3), runWorker(5)]);
  for (const [i, r] of results.entries()) {
    assert.deepEqual(r.product, [7, 10, 15, 22]); // [[1*1+2*3, 1*2+2*4], [3*1+4*3, 3*2+4*4]]
    assert.deepEqual(r.sorted, [1, 2, 3]);
    assert.deepEqual(
      r.y,
      [1, 2, 3, 4].map((v) => v * [2, 3, 5][i]!),
    );
    assert.equal(r.before, 0, "a worker's handle count starts at 0: the main thread's handles are not its own");
  }
  // The workers' handles were theirs alone, and their teardown freed them without touching the main thread.
  assert.equal(T.liveTensorCount(), mainLive);
  assert.deepEqual(Array.from(a.mul(2).add(a).toTypedArray() as Float32Array), [3, 6, 9]);
  const b = T.tensor(new Float32Array([4, 5, 6]));
  assert.equal(a.mul(b).sum().item(), 32); // 4 + 10 + 18
  a.dispose();
  b.dispose();
});

test('the main thread keeps its state after a worker loaded the addon and exited', async () => {
  const seen = T.liveTensorCount();
  await runWorker(1);
  const x = T.tensor(new Float32Array([1, 2, 3, 4]), [2, 2]);
  const y = x.matmul(x);
  assert.deepEqual(Array.from(y.toTypedArray() as Float32Array), [7, 10, 15, 22]);
  assert.equal(T.liveTensorCount(), seen + 2);
  x.dispose();
  y.dispose();
  assert.equal(T.liveTensorCount(), seen);
});
