import { conv2d, type Tensor } from '../torch/index.js';
import { Module } from './module.js';

/** 2-D convolution, weight [out, in, k, k], initialised as nn.Conv2d: U(±1/√(in·k·k)). */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly stride = 1,
    readonly padding = 0,
    bias = true,
  ) {
    super();
    const bound = 1 / Math.sqrt(inChannels * kernelSize * kernelSize);
    const init = (t: Tensor) => t.uniform_(-bound, bound);
    this.weight = this.initParameter('weight', [outChannels, inChannels, kernelSize, kernelSize], init);
    if (bias) this.bias = this.initParameter('bias', [outChannels], init);
  }

  /** x [N, in, H, W] -> [N, out, H', W'] */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.stride, this.padding);
  }
}
