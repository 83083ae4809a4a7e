// The demo's stage 1 and stage 2 as real recipe files in the run folder: the reference's flag names, values from
// config.ts, validated by the same schema as `llava train --recipe`, so a user can rerun either stage by hand.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadRecipe, type Recipe } from '../train/index.js';
import { STAGE1, STAGE2 } from './config.js';

export type StagePaths = {
  /** The stage-0 LLaMA folder (with the tokenizer) and CLIP folder. */
  llm: string;
  clip: string;
  imageFolder: string;
  /** The stage's data (LLaVA's instruction JSON) and output folder. */
  data: string;
  output: string;
};

/** Stage 1, feature alignment: projector only, `plain` template, captions (spec §6: the v1.5 pretrain row). */
export function pretrainRecipe(p: StagePaths, maxSteps = 0): Record<string, unknown> {
  return {
    stage: 'pretrain',
    model_name_or_path: p.llm,
    vision_tower: p.clip,
    mm_projector_type: 'mlp2x_gelu',
    mm_vision_select_layer: -2,
    mm_vision_select_feature: 'patch',
    data_path: p.data,
    image_folder: p.imageFolder,
    preprocessor_config: join(p.clip, 'preprocessor_config.json'),
    version: 'plain',
    model_max_length: STAGE1.modelMaxLength,
    output_dir: p.output,
    num_train_epochs: STAGE1.epochs,
    max_steps: maxSteps,
    per_device_train_batch_size: STAGE1.batchSize,
    learning_rate: STAGE1.learningRate,
    weight_decay: 0,
    lr_scheduler_type: 'cosine',
    warmup_ratio: 0.03,
    save_steps: 0,
    seed: STAGE1.seed,
  };
}

/** Stage 2, end-to-end: projector + LLM, `v1` template, the data engine's records and the short-answer mix. */
export function finetuneRecipe(p: StagePaths, projector: string, maxSteps = 0): Record<string, unknown> {
  return {
    ...pretrainRecipe(p, maxSteps),
    stage: 'finetune',
    pretrain_mm_mlp_adapter: projector,
    version: 'v1',
    image_placement: 'random',
    model_max_length: STAGE2.modelMaxLength,
    num_train_epochs: STAGE2.epochs,
    per_device_train_batch_size: STAGE2.batchSize,
    learning_rate: STAGE2.learningRate,
    mm_projector_lr: STAGE2.projectorLearningRate,
    seed: STAGE2.seed,
  };
}

/** Writes the recipe as YAML and reads it back through the schema (what `llava train --recipe` does). */
export function writeRecipe(file: string, recipe: Record<string, unknown>): Recipe {
  writeFileSync(file, `# written by llava demo; rerun with: llava train --recipe ${file}\n${toYaml(recipe)}`);
  return loadRecipe(file);
}
