export { Module, ModuleList, type StateDict } from './module.js';
export { Linear } from './linear.js';
export { Embedding } from './embedding.js';
export { LayerNorm, RMSNorm } from './norm.js';
export { Conv2d } from './conv.js';
export { Dropout } from './dropout.js';
export { AdamW, ADAMW_DEFAULTS, type AdamWHyper, type ParamGroup } from './adamw.js';
export { clipGradNorm } from './clip-grad.js';
