// llava-ts: the package's main entry. It loads the native libtorch addon; the data engine,
// which needs no tensors, has its own entry (`llava-ts/datagen`) that does not.
export * from './torch/index.js';
export * as nn from './nn/index.js';
export { runtimeReport, measureGemmGflops, type RuntimeReport } from './torch/runtime.js';
