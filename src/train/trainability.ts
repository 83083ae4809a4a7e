// What each training stage trains (spec §6, train.py): stage 1 (tune_mm_mlp_adapter) only the projector; stage 2
// the projector and the whole language model; LoRA the adapters plus the projector. The vision tower is always
// frozen. Everything else has requires_grad off, so it never holds a gradient or optimizer state.
import type { LlavaForConditionalGeneration } from '../models/index.js';
import { LoraAdapter, loraTargets, type LoraOptions } from './lora.js';
import { isProjector, type NamedParameter } from './param-groups.js';

export type Stage = 'pretrain' | 'finetune' | 'lora';

export type Trainable = { parameters: NamedParameter[]; lora?: LoraAdapter };

/** Freezes `model` as the stage asks and returns its trainable parameters in named_parameters order. */
export function applyStage(model: LlavaForConditionalGeneration, stage: Stage, lora?: LoraOptions): Trainable {
  model.freeze();
  const trains = (name: string) => isProjector(name) || (stage === 'finetune' && name.startsWith('language_model.'));
  const parameters = model.namedParameters().filter(([name]) => trains(name));
  for (const [, p] of parameters) p.requiresGrad = true;
  if (stage !== 'lora') return { parameters };
  if (!lora) throw new Error("stage 'lora' needs the LoRA options (r, alpha, dropout)");
  const adapter = new LoraAdapter(lora, loraTargets(model, lora.targetModules)).attach();
  return { parameters: [...parameters, ...adapter.namedParameters()], lora: adapter };
}
