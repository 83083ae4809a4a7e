import { dropout, type Tensor } from '../torch/index.js';
import { Module } from './module.js';

/** Zeroes elements with probability p and scales the rest by 1/(1-p), in training only. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    return this.p === 0 ? x : dropout(x, this.p, this.training);
  }
}
