// `llava merge-lora`, as the reference's scripts/merge_lora_weights.py: the base model, the adapter folder's
// non_lora_trainables (the projector) and its LoRA deltas merged (W + B·A·α/r), saved as a checkpoint in the base's
// layout (llava-hf, or the reference's for a LLaMA or original-layout base).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProjectorType } from '../models/index.js';
import { loadBaseModel } from './base-model.js';
import { saveStage2 } from './outputs.js';
import { loadAdapter } from './peft.js';

export function mergeLora(options: {
  modelPath: string;
  modelBase: string;
  saveModelPath: string;
  maxShardSize?: string;
}): void {
  // As the reference's builder: the LoRA folder's config.json says how LLaVA is built on a plain LLaMA base (its
  // vision tower, projector type and feature layer); a LLaVA base (llava-hf or original) is used as it is.
  const configPath = join(options.modelPath, 'config.json');
  const json = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>) : {};
  const base = loadBaseModel({
    dir: options.modelBase,
    visionTower: json.mm_vision_tower as string | undefined,
    projectorType: (json.mm_projector_type as ProjectorType | undefined) ?? 'mlp2x_gelu',
    selectLayer: (json.mm_vision_select_layer as number | undefined) ?? -2,
    selectFeature: (json.mm_vision_select_feature as 'patch' | 'cls_patch' | undefined) ?? 'patch',
  });
  loadAdapter(options.modelPath, base.model).mergeAndUnload();
  saveStage2(options.saveModelPath, base, { baseDir: options.modelBase, maxShardSize: options.maxShardSize });
}
