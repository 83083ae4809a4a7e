// LLaVA's optimizer groups (LLaVATrainer.create_optimizer over transformers' decay rule): a parameter is decayed
// unless it lives in a LayerNorm/RMSNorm module (ALL_LAYERNORM_LAYERS in 4.40) or its name contains "bias"; with
// mm_projector_lr the projector gets its own two groups. Only trainable parameters enter a group, so a frozen
// parameter never holds optimizer state. embed_tokens and lm_head are decayed in every row, as the reference does.
import { LayerNorm, RMSNorm, type Module } from '../nn/index.js';
import type { Tensor } from '../torch/index.js';

export type NamedParameter = [name: string, param: Tensor];

export type OptimizerGroup = { names: string[]; params: Tensor[]; lr: number; weightDecay: number };

/** Names of the parameters that no decay applies to: those of norm modules and every bias. */
export function noDecayNames(model: Module): Set<string> {
  const out = new Set<string>();
  for (const [prefix, m] of model.namedModules()) {
    if (!(m instanceof LayerNorm || m instanceof RMSNorm)) continue;
    for (const [name] of m.namedParameters()) out.add(prefix ? `${prefix}.${name}` : name);
  }
  for (const [name] of model.namedParameters()) if (name.includes('bias')) out.add(name);
  return out;
}

/** The projector as LLaVA tests for it (its 'mm_projector' is llava-hf's 'multi_modal_projector'). */
export const isProjector = (name: string): boolean => name.includes('multi_modal_projector');

/**
 * [decay, no-decay] or, with projectorLr, [LLM decay, LLM no-decay, projector decay, projector no-decay], in the
 * order `trainable` lists the parameters (the model's named_parameters order). Empty groups are kept, as the
 * reference's are, so group indices mean the same in every run.
 */
export function optimizerGroups(
  trainable: NamedParameter[],
  noDecay: Set<string>,
  options: { lr: number; weightDecay: number; projectorLr?: number | null },
): OptimizerGroup[] {
  const group = (lr: number, weightDecay: number, keep: (name: string) => boolean): OptimizerGroup => {
    const chosen = trainable.filter(([name]) => keep(name));
    return { names: chosen.map(([n]) => n), params: chosen.map(([, p]) => p), lr, weightDecay };
  };
  const decays = (n: string) => !noDecay.has(n);
  const { lr, weightDecay, projectorLr } = options;
  if (projectorLr === undefined || projectorLr === null)
    return [group(lr, weightDecay, decays), group(lr, 0, (n) => !decays(n))];
  return [
    group(lr, weightDecay, (n) => !isProjector(n) && decays(n)),
    group(lr, 0, (n) => !isProjector(n) && !decays(n)),
    group(projectorLr, weightDecay, (n) => isProjector(n) && decays(n)),
    group(projectorLr, 0, (n) => isProjector(n) && !decays(n)),
  ];
}
