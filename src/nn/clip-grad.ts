import { noGrad, stack, type Tensor } from '../torch/index.js';

/**
 * Scales all gradients together so that their global 2-norm is at most maxNorm, as
 * torch.nn.utils.clip_grad_norm_; returns the norm before clipping.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return noGrad(() => {
    const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== undefined);
    if (grads.length === 0) return 0;
    const norms = grads.map((g) => g.norm());
    const total = stack(norms).norm();
    const totalNorm = total.item();
    const coef = maxNorm / (totalNorm + 1e-6);
    if (coef < 1) for (const g of grads) g.mul_(coef);
    for (const t of [...grads, ...norms, total]) t.dispose();
    return totalNorm;
  });
}
