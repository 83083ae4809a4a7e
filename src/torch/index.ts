// The tensor API: libtorch tensors with autograd, called from TypeScript.
export { Tensor } from './tensor.js';
export { type DType, type TypedArray, isFloating, isDType } from './dtype.js';
export * from './creation.js';
export * from './functional.js';
export { noGrad, enableGrad, isGradEnabled, grad, liveTensorCount, liveStorageBytes } from './autograd.js';
export { scope, keep } from './scope.js';
export { schemaOf } from './aten.js';
