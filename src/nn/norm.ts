import { layerNorm, rmsNorm, type Tensor } from '../torch/index.js';
import { Module } from './module.js';

/** Normalises the last dim to zero mean and unit variance, then scales and shifts (CLIP). */
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.initParameter('weight', [dim], (t) => t.fill_(1));
    this.bias = this.initParameter('bias', [dim], (t) => t.zero_());
  }

  /** x [..., dim] -> [..., dim] */
  forward(x: Tensor): Tensor {
    return layerNorm(x, [this.dim], this.weight, this.bias, this.eps);
  }
}

/**
 * LLaMA's RMSNorm: x / √(mean(x²) + eps) · weight, computed in float32 and cast back to the
 * input dtype before the weight, exactly as transformers' LlamaRMSNorm (so bf16 matches).
 */
export class RMSNorm extends Module {
  readonly weight: Tensor;

  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = this.initParameter('weight', [dim], (t) => t.fill_(1));
  }

  /** x [..., dim] -> [..., dim] */
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}
