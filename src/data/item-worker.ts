// Worker-thread side of WorkerPool: rebuilds the dataset from plain options and answers `get(i)` requests,
// transferring the typed arrays back without copying.
import { parentPort, workerData } from 'node:worker_threads';
import { SampleError } from './sample.js';
import { SupervisedDataset, type SupervisedDataOptions } from './supervised-dataset.js';
import type { InstructionIndex } from './instruction-index.js';

const { options, index } = workerData as { options: SupervisedDataOptions; index: InstructionIndex };
const dataset = new SupervisedDataset(index, options);

parentPort!.on('message', async ({ id, i }: { id: number; i: number }) => {
  try {
    const item = await dataset.get(i);
    const transfer = [
      item.inputIds.buffer,
      item.labels.buffer,
      ...(item.pixelValues ? [item.pixelValues.data.buffer] : []),
    ];
    parentPort!.postMessage({ id, item }, transfer as ArrayBuffer[]);
  } catch (err) {
    const e = err as Error;
    const error =
      err instanceof SampleError
        ? { sample: true, where: err.where, message: e.message }
        : { sample: false, message: e.stack ?? e.message };
    parentPort!.postMessage({ id, error });
  }
});
