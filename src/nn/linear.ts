import { linear, type Tensor } from '../torch/index.js';
import { Module } from './module.js';

/** y = x·Wᵀ + b with W [out, in], initialised as PyTorch's nn.Linear: U(±1/√in). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    const init = (t: Tensor) => t.uniform_(-bound, bound);
    this.weight = this.initParameter('weight', [outFeatures, inFeatures], init);
    if (bias) this.bias = this.initParameter('bias', [outFeatures], init);
  }

  /** x [..., in] -> [..., out] */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
