// The original LLaVA repository's layout (LlavaLlamaForCausalLM): one config.json holding the
// LLaMA keys plus mm_* keys, weights named model.* with the projector at model.mm_projector.*,
// and the CLIP tower in its own folder named by mm_vision_tower (or inside the checkpoint as
// model.vision_tower.vision_tower.*). Renamed on load onto llava-hf's modules.
import { join } from 'node:path';
import { readConfig } from './config-file.js';
import { aspectRatio, check, maxLength, projectorType, visionLayer } from './config-keys.js';
import { clipVisionConfig, llamaConfig, type LlavaConfig } from './config.js';
import type { LlavaForConditionalGeneration } from './llava.js';
import { loadWeights, type KeyedSource, type LoadOptions } from './loader.js';
import { findVisionTower } from './vision-tower-path.js';
import { isDerivedBuffer, withWeights } from './weights.js';

type Json = Record<string, unknown>;

export type LlavaClass<M extends LlavaForConditionalGeneration> = new (config: LlavaConfig) => M;

export const isOriginalLlava = (json: Record<string, unknown>): boolean =>
  'mm_vision_tower' in json || 'mm_projector_type' in json || 'mm_hidden_size' in json;

/** mm_projector.{0,2}.* (mlp2x_gelu) or mm_projector.* (linear) -> linear_1 / linear_2. */
export function projectorKey(rest: string): string {
  if (rest.startsWith('0.')) return `linear_1.${rest.slice(2)}`;
  if (rest.startsWith('2.')) return `linear_2.${rest.slice(2)}`;
  return `linear_1.${rest}`;
}

export function loadOriginalLlava<M extends LlavaForConditionalGeneration>(
  Model: LlavaClass<M>,
  dir: string,
  json: Record<string, unknown>,
  options: LoadOptions,
): M {
  const where = join(dir, 'config.json');
  const towerDir = findVisionTower(dir, String(json.mm_vision_tower ?? ''), options.visionTower);
  const towerJson = readConfig(towerDir);
  const config = originalLlavaConfig(json, where, towerJson, join(towerDir, 'config.json'));
  const renameLlm = (k: string): string | undefined => {
    if (isDerivedBuffer(k)) return undefined;
    if (k.startsWith('model.mm_projector.'))
      return `multi_modal_projector.${projectorKey(k.slice('model.mm_projector.'.length))}`;
    if (k.startsWith('model.vision_tower.vision_tower.'))
      return `vision_tower.${k.slice('model.vision_tower.vision_tower.'.length)}`;
    if (k.startsWith('model.')) return `language_model.${k}`;
    if (k === 'lm_head.weight')
      return config.text_config.tie_word_embeddings ? undefined : 'language_model.lm_head.weight';
    return k;
  };
  // A full CLIPModel folder also holds the text tower: only vision_model.* is ours.
  const renameTower = (k: string) =>
    isDerivedBuffer(k)
      ? undefined
      : k.startsWith('vision_model.') || towerJson.model_type !== 'clip'
        ? `vision_tower.${k}`
        : undefined;
  return withWeights((open) => {
    const llm = open(dir);
    const sources: KeyedSource[] = [{ source: llm, rename: renameLlm }];
    if (!llm.names().some((k) => k.startsWith('model.vision_tower.')))
      sources.push({ source: open(towerDir), rename: renameTower });
    return loadWeights(() => new Model(config), sources, options, dir);
  });
}

/**
 * The original LLaVA layout's config.json (LLaMA keys plus mm_*), with the CLIP tower's own
 * config. Keys whose meaning llava-ts does not implement are refused by name.
 */
export function originalLlavaConfig(json: Json, where: string, towerJson: Json, towerWhere: string): LlavaConfig {
  const selectFeature = (json.mm_vision_select_feature as string | undefined) ?? 'patch';
  check(
    selectFeature === 'patch' || selectFeature === 'cls_patch',
    where,
    `mm_vision_select_feature '${selectFeature}' is not 'patch' or 'cls_patch'`,
  );
  check(
    json.mm_use_im_start_end !== true,
    where,
    'mm_use_im_start_end true is not supported: the checkpoint expects <im_start>/<im_end> tokens around every image, which llava-ts prompts do not write (LLaVA-1.5 sets it false)',
  );
  const text = llamaConfig(json, where);
  const vision = clipVisionConfig(towerJson, towerWhere);
  return {
    model_type: 'llava',
    text_config: text,
    vision_config: vision,
    image_token_index: -200,
    vision_feature_layer: visionLayer(json.mm_vision_select_layer ?? -1, 'mm_vision_select_layer', where),
    vision_feature_select_strategy: selectFeature === 'patch' ? 'default' : 'full',
    projector_type: projectorType((json.mm_projector_type as string | undefined) ?? 'linear', where),
    projector_hidden_act: 'gelu',
    ignore_index: -100,
    pad_token_id: text.pad_token_id,
    image_seq_length: (vision.image_size / vision.patch_size) ** 2,
    tokenizer_model_max_length: maxLength(json.tokenizer_model_max_length, where),
    image_aspect_ratio: aspectRatio(json.image_aspect_ratio, where),
  };
}
