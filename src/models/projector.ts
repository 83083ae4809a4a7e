// The projector from vision features into the LLM's word-embedding space. Names follow
// llava-hf's LlavaMultiModalProjector (linear_1, linear_2); the original LLaVA checkpoints'
// model.mm_projector.{0,2} (mlp2x_gelu) and model.mm_projector (linear) map onto them.
import { Linear, Module } from '../nn/index.js';
import { gelu, type Tensor } from '../torch/index.js';
import type { ProjectorType } from './config.js';

export class MultiModalProjector extends Module {
  readonly linear_1?: Linear;
  readonly linear_2?: Linear;

  constructor(
    readonly type: ProjectorType,
    visionHidden: number,
    textHidden: number,
  ) {
    super();
    if (type === 'identity') {
      if (visionHidden !== textHidden)
        throw new Error(
          `identity projector needs the vision width (${visionHidden}) to equal the LLM width (${textHidden})`,
        );
      return;
    }
    this.linear_1 = this.registerModule('linear_1', new Linear(visionHidden, textHidden));
    if (type === 'mlp2x_gelu') this.linear_2 = this.registerModule('linear_2', new Linear(textHidden, textHidden));
  }

  /** features [N, P, vision] -> [N, P, text]: linear (v1); linear, exact GELU, linear (v1.5); or as is. */
  forward(features: Tensor): Tensor {
    if (!this.linear_1) return features;
    const h = this.linear_1.forward(features);
    return this.linear_2 ? this.linear_2.forward(gelu(h)) : h;
  }
}
