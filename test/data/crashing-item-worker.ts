// A data worker that dies on purpose while preparing an item, chosen by the record's id: 'exit' calls process.exit(3),
// 'throw' throws where nothing catches it, 'oom' allocates until the worker's heap limit ends it. Other items are
// answered as item-worker.js answers them.
import { parentPort, workerData } from 'node:worker_threads';
import { SupervisedDataset } from '../../src/data/supervised-dataset.js';

// The test runner runs every .js under dist/test as a test file too: there, with no parent port, this does nothing.
if (parentPort) {
  const port = parentPort;
  const dataset = new SupervisedDataset(workerData.index, workerData.options);
  port.on('message', ({ id, i }: { id: number; i: number }) => {
    void dataset.get(i).then((item) => {
      if (item.id === 'exit') process.exit(3);
      if (item.id === 'throw') throw new Error('a bug in the worker');
      if (item.id === 'oom') {
        const hoard: object[][] = [];
        for (;;) hoard.push(Array.from({ length: 1e5 }, () => ({})));
      }
      port.postMessage({ id, item });
    });
  });
}
