// bf16 training as the reference's --bf16 runs it (DeepSpeed's bf16 mode): the model computes in bf16, while the
// optimizer updates fp32 master copies of the trainable weights and keeps its moments in fp32; after each step the
// model's weights are the masters rounded to bf16. Updates smaller than bf16's resolution accumulate in the
// masters instead of vanishing.
import { keep, noGrad, type Tensor } from '../torch/index.js';

export class MasterWeights {
  /** fp32 copies, one per model weight, in the same order. */
  readonly masters: Tensor[];

  constructor(readonly weights: Tensor[]) {
    this.masters = noGrad(() => weights.map((w) => keep(w.to('float32').requiresGrad_(false))));
  }

  /** The master of `weight`, or undefined when it has none. */
  masterOf(weight: Tensor): Tensor | undefined {
    const i = this.weights.indexOf(weight);
    return i < 0 ? undefined : this.masters[i];
  }

  /** Moves each weight's accumulated gradient to its master, in fp32. */
  gradientsToMasters(): void {
    noGrad(() => {
      this.weights.forEach((w, i) => {
        const g = w.grad;
        this.masters[i]!.grad = g?.to('float32');
        w.grad = undefined;
        g?.dispose();
      });
    });
  }

  /** Masters ← model weights (after the weights were replaced, e.g. broadcast from rank 0). */
  copyFromWeights(): void {
    noGrad(() => this.masters.forEach((m, i) => m.copy_(this.weights[i]!)));
  }

  /** Model weights ← masters, rounded to the model's dtype. */
  copyToWeights(): void {
    noGrad(() => this.weights.forEach((w, i) => w.copy_(this.masters[i]!)));
  }
}
