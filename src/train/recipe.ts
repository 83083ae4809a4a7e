// Training recipes: a YAML or JSON file of the reference's own flag names (train.py's ModelArguments,
// DataArguments and TrainingArguments, e.g. learning_rate, mm_projector_lr, gradient_accumulation_steps), checked
// with a schema: unknown keys, wrong types and out-of-range values are errors naming the key and the file.
// `--set key=value` overrides one key (the value read as YAML: numbers, booleans, null, strings). Relative paths
// are relative to the working directory, as the reference's command line flags are.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const positiveInt = z.number().int().min(1);
const unit = z.number().min(0).max(1);

export const RecipeSchema = z.strictObject({
  // What is trained (spec §6): pretrain = stage 1 (tune_mm_mlp_adapter), finetune = stage 2, lora = stage 2 with LoRA.
  stage: z.enum(['pretrain', 'finetune', 'lora']),
  model_name_or_path: z.string().min(1),
  /** The CLIP folder: with a plain LLaMA base, the tower LLaVA is built with; with the original layout, where mm_vision_tower is. */
  vision_tower: z.string().min(1).optional(),
  /** For a plain LLaMA base with vision_tower (the reference's stage 1): the new projector and the feature layer. */
  mm_projector_type: z.enum(['linear', 'mlp2x_gelu']).default('mlp2x_gelu'),
  mm_vision_select_layer: z.number().int().default(-2),
  mm_vision_select_feature: z.enum(['patch', 'cls_patch']).default('patch'),
  /** Stage 1's mm_projector.bin (or .safetensors) loaded into the projector before training. */
  pretrain_mm_mlp_adapter: z.string().min(1).optional(),
  lora_r: positiveInt.default(64),
  lora_alpha: z.number().positive().default(16),
  lora_dropout: z.number().min(0).lt(1).default(0.05),
  /** Linear modules of the LLM by last name; default every one but lm_head. */
  lora_target_modules: z.array(z.string().min(1)).min(1).optional(),

  data_path: z.string().min(1),
  image_folder: z.string().min(1).optional(),
  /** The tokenizer folder; default the model's. */
  tokenizer_dir: z.string().min(1).optional(),
  preprocessor_config: z.string().min(1).optional(),
  version: z.string().min(1).default('v1'),
  image_aspect_ratio: z.enum(['square', 'pad']).default('square'),
  image_placement: z.enum(['first', 'random', 'keep']).default('first'),
  model_max_length: positiveInt.optional(),
  group_by_modality_length: z.boolean().default(false),
  dataloader_num_workers: z.number().int().min(0).default(0),
  /** A sample whose image or text is bad: stop (error) or leave it out and count it (skip). */
  on_bad_sample: z.enum(['error', 'skip']).default('error'),

  output_dir: z.string().min(1),
  num_train_epochs: z.number().positive().default(1),
  max_steps: z.number().int().min(0).default(0),
  per_device_train_batch_size: positiveInt.default(8),
  gradient_accumulation_steps: positiveInt.default(1),
  learning_rate: z.number().positive().default(5e-5),
  mm_projector_lr: z.number().positive().nullable().default(null),
  weight_decay: z.number().min(0).default(0),
  adam_beta1: z.number().min(0).lt(1).default(0.9),
  adam_beta2: z.number().min(0).lt(1).default(0.999),
  adam_epsilon: z.number().min(0).default(1e-8),
  max_grad_norm: z.number().positive().default(1),
  lr_scheduler_type: z.enum(['cosine', 'linear', 'constant', 'constant_with_warmup']).default('linear'),
  warmup_ratio: unit.default(0),
  warmup_steps: z.number().int().min(0).default(0),
  /** mean = transformers 4.37-4.45 (the reference); token-weighted = transformers ≥ 4.46. */
  loss_scaling: z.enum(['mean', 'token-weighted']).default('mean'),
  seed: z.number().int().min(0).default(42),
  bf16: z.boolean().default(false),
  gradient_checkpointing: z.boolean().default(false),
  /** Checkpoint every N optimizer steps (0: only at the end), keeping the last save_total_limit. */
  save_steps: z.number().int().min(0).default(500),
  save_total_limit: positiveInt.default(1),
  max_shard_size: z.string().min(1).default('5GB'),
  /** Steps in a row with a NaN/inf loss that are skipped before the run stops. */
  max_non_finite_steps: positiveInt.default(5),
  /** Stop when more than this share of the samples seen so far has no supervised token. */
  max_fully_masked_share: unit.default(0.05),
  device: z.enum(['cpu', 'cuda']).default('cpu'),
  /** Distributed runs: 0 = data parallel (DDP), 1 = optimizer state sharded (ZeRO-1), 2 = gradients too (ZeRO-2). */
  zero_stage: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(0),
  /** Seconds a collective may wait for the other ranks (transformers' ddp_timeout) before the run stops. */
  ddp_timeout: z.number().positive().default(1800),
});

export type Recipe = z.infer<typeof RecipeSchema>;

export class RecipeError extends Error {}

/** Reads, overrides and validates a recipe; every problem is listed with its key and where it came from. */
export function loadRecipe(file: string, sets: string[] = []): Recipe {
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new RecipeError(`${file}: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new RecipeError(`${file}: a recipe is a mapping of keys to values`);
  const merged: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const origin = new Map<string, string>();
  for (const set of sets) {
    const at = set.indexOf('=');
    if (at <= 0) throw new RecipeError(`--set ${set}: expected key=value`);
    const key = set.slice(0, at);
    merged[key] = parseYaml(set.slice(at + 1));
    origin.set(key, `--set ${key}`);
  }
  const result = RecipeSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [issue.path.join('.')];
      return keys.map((key) => `${origin.get(key) ?? `${file}: ${key}`}: ${issue.message}`).join('\n  ');
    });
    throw new RecipeError(`invalid recipe:\n  ${lines.join('\n  ')}`);
  }
  return result.data;
}
