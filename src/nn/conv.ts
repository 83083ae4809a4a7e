import { conv2d, empty, type Tensor } from '../torch/index.js';
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
    this.weight = this.registerParameter(
      'weight',
      empty([outChannels, inChannels, kernelSize, kernelSize]).uniform_(-bound, bound),
    );
    if (bias) this.bias = this.registerParameter('bias', empty([outChannels]).uniform_(-bound, bound));
  }

  /** x [N, in, H, W] -> [N, out, H', W'] */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.stride, this.padding);
  }
}
