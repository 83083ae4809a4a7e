// The one place a collated batch becomes libtorch tensors (the rest of the data path is plain typed arrays, so
// worker threads and tests never load the native addon).
import { tensor, type Tensor } from '../torch/index.js';
import type { Batch } from './collate.js';

export interface TensorBatch {
  /** [B, T] int64, -200 where the image goes */
  inputIds: Tensor;
  /** [B, T] int64, -100 where ignored */
  labels: Tensor;
  /** [B, T] bool */
  attentionMask: Tensor;
  /** [N, 3, H, W] float32, or null for a text-only batch */
  pixelValues: Tensor | null;
}

export function toTensors(batch: Batch): TensorBatch {
  const shape = [...batch.shape];
  return {
    inputIds: tensor(batch.inputIds, shape, 'int64'),
    labels: tensor(batch.labels, shape, 'int64'),
    attentionMask: tensor(batch.attentionMask, shape, 'bool'),
    pixelValues:
      batch.pixelValues && batch.pixelShape ? tensor(batch.pixelValues, [...batch.pixelShape], 'float32') : null,
  };
}
