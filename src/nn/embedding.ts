import { embedding, type Tensor } from '../torch/index.js';
import { Module } from './module.js';

/** A lookup table [num, dim], N(0, 1) as nn.Embedding. */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    readonly paddingIdx?: number,
  ) {
    super();
    this.weight = this.initParameter('weight', [numEmbeddings, embeddingDim], (t) => t.normal_());
  }

  /** ids [...] (int64) -> [..., dim] */
  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight, this.paddingIdx ?? -1);
  }
}
