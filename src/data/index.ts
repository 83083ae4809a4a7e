// The training data path: instruction files indexed by byte offset, the supervised dataset (template, masking,
// images), seeded length- and modality-grouped sampling, worker threads, collation and batches as tensors.
export {
  indexInstructionFile,
  InstructionFile,
  type BadInputPolicy,
  type InstructionIndex,
  type SkippedRecord,
} from './instruction-index.js';
export { readRecords, type RawRecord, type RecordFormat } from './json-records.js';
export { modalityLength, parseSample, SampleError, type Sample } from './sample.js';
export { ImageRoot } from './image-root.js';
export { SupervisedDataset, type Item, type SupervisedDataOptions } from './supervised-dataset.js';
export { epochOrder, type SamplerOptions } from './sampler.js';
export { collate, type Batch, type CollateOptions, type Example } from './collate.js';
export { expandImages, type ExpandedLayout } from './image-expansion.js';
export { DataLoader, type ItemSource, type LoadedBatch, type LoaderOptions, type LoaderReport } from './loader.js';
export { WorkerPool } from './worker-pool.js';
export { toTensors, type TensorBatch } from './to-tensors.js';
export { permutation, rng } from './rng.js';
