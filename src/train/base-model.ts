// The model a recipe starts from, in one of three forms:
//   llava-hf       a LlavaForConditionalGeneration folder (config model_type 'llava');
//   original       the reference's LlavaLlamaForCausalLM folder (config with mm_* keys; image placeholder -200);
//   llm + tower    a plain LLaMA/Vicuna folder plus `vision_tower` (a CLIP folder), as the reference's stage 1
//                  starts: the projector is new (nn.Linear's initialisation, seeded), the placeholder is -200 and
//                  the vocabulary is unchanged, exactly as the reference trains.
// Outputs are written in the layout the run started from (saveModelFolder): llava-hf, or the original keys
// (model.*, model.mm_projector.{0,2}, model.vision_tower.vision_tower.*, lm_head) with the reference's config keys.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveShardedSafetensors } from '../io/tensors.js';
import { writeAll, writeFileAtomic } from '../io/atomic.js';
import {
  CLIPVisionModel,
  LlamaForCausalLM,
  LlavaForConditionalGeneration,
  MultiModalProjector,
  clipVisionConfig,
  llamaConfig,
  llavaConfig,
  type LlavaConfig,
  type ProjectorType,
} from '../models/index.js';
import { withDevice, type Tensor } from '../torch/index.js';
import { originalLlavaConfig } from '../models/original-layout.js';

export type Layout = 'llava-hf' | 'original';

export type BaseOptions = {
  dir: string;
  visionTower?: string;
  projectorType: ProjectorType;
  selectLayer: number;
  selectFeature: 'patch' | 'cls_patch';
};

export type BaseModel = { model: LlavaForConditionalGeneration; layout: Layout; visionTowerName: string };

const readJson = (path: string): Record<string, unknown> => {
  if (!existsSync(path)) throw new Error(`${path}: not found (is the folder a model checkpoint?)`);
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
};

/** The base's form and LLaVA config, from config files only (what --dry-run needs). */
export function baseConfig(o: BaseOptions): {
  config: LlavaConfig;
  layout: Layout;
  form: 'llava-hf' | 'original' | 'llm+tower';
  visionTowerName: string;
} {
  const where = join(o.dir, 'config.json');
  const json = readJson(where);
  if (json.model_type === 'llava')
    return { config: llavaConfig(json, where), layout: 'llava-hf', form: 'llava-hf', visionTowerName: '' };
  const original = 'mm_vision_tower' in json || 'mm_projector_type' in json;
  const towerName = o.visionTower ?? (json.mm_vision_tower as string | undefined);
  if (!towerName)
    throw new Error(`${where}: a plain LLaMA checkpoint; set vision_tower to the CLIP folder to build LLaVA on it`);
  const towerWhere = join(towerName, 'config.json');
  const towerJson = readJson(towerWhere);
  if (original)
    return {
      config: originalLlavaConfig(json, where, towerJson, towerWhere),
      layout: 'original',
      form: 'original',
      visionTowerName: towerName,
    };
  const text = llamaConfig(json, where);
  const vision = clipVisionConfig(towerJson, towerWhere);
  const config: LlavaConfig = {
    model_type: 'llava',
    text_config: text,
    vision_config: vision,
    image_token_index: -200,
    vision_feature_layer: o.selectLayer,
    vision_feature_select_strategy: o.selectFeature === 'patch' ? 'default' : 'full',
    projector_type: o.projectorType,
    projector_hidden_act: 'gelu',
    ignore_index: -100,
    pad_token_id: text.pad_token_id,
    image_seq_length: (vision.image_size / vision.patch_size) ** 2,
    tokenizer_model_max_length: null, // a plain LLaMA has no such key; the stage outputs write the recipe's
    image_aspect_ratio: 'square',
  };
  return { config, layout: 'original', form: 'llm+tower', visionTowerName: towerName };
}

export function loadBaseModel(o: BaseOptions): BaseModel {
  const { config, layout, form, visionTowerName } = baseConfig(o);
  if (form !== 'llm+tower')
    return {
      model: LlavaForConditionalGeneration.fromPretrained(o.dir, { visionTower: o.visionTower }),
      layout,
      visionTowerName,
    };
  const llm = LlamaForCausalLM.fromPretrained(o.dir);
  const tower = CLIPVisionModel.fromPretrained(visionTowerName);
  const projector = new MultiModalProjector(
    config.projector_type,
    config.vision_config.hidden_size,
    config.text_config.hidden_size,
  );
  const model = withDevice('meta', () => new LlavaForConditionalGeneration(config));
  const state = new Map<string, Tensor>();
  for (const [prefix, m] of [
    ['language_model', llm],
    ['vision_tower', tower],
    ['multi_modal_projector', projector],
  ] as const)
    for (const [k, t] of m.stateDict()) state.set(`${prefix}.${k}`, t);
  model.loadStateDict(state, { assign: true });
  return { model, layout, visionTowerName };
}

/** llava-hf parameter name -> the reference's (LlavaLlamaForCausalLM) key. */
export function originalKey(name: string, projector: ProjectorType): string {
  if (name.startsWith('language_model.model.')) return `model.${name.slice('language_model.model.'.length)}`;
  if (name === 'language_model.lm_head.weight') return 'lm_head.weight';
  if (name.startsWith('vision_tower.')) return `model.vision_tower.vision_tower.${name.slice('vision_tower.'.length)}`;
  const [, layer, kind] = name.split('.') as [string, string, string];
  if (projector !== 'mlp2x_gelu') return `model.mm_projector.${kind}`;
  return `model.mm_projector.${layer === 'linear_1' ? 0 : 2}.${kind}`;
}

/** The reference's (LlavaLlamaForCausalLM) key -> llava-hf name; llava-hf names pass unchanged. */
export function llavaHfName(key: string): string {
  if (/^(language_model|multi_modal_projector|vision_tower)\./.test(key)) return key;
  if (key === 'lm_head.weight') return 'language_model.lm_head.weight';
  if (key.startsWith('model.vision_tower.vision_tower.'))
    return `vision_tower.${key.slice('model.vision_tower.vision_tower.'.length)}`;
  const projector = /^model\.mm_projector\.(?:([02])\.)?(.+)$/.exec(key);
  if (projector) return `multi_modal_projector.linear_${projector[1] === '2' ? 2 : 1}.${projector[2]}`;
  if (key.startsWith('model.')) return `language_model.${key}`;
  return key;
}

/** The reference's config.json for a LLaVA model (spec §5.6). */
export function originalConfigJson(
  model: LlavaForConditionalGeneration,
  visionTowerName: string,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const c = model.config;
  return {
    architectures: ['LlavaLlamaForCausalLM'],
    ...c.text_config,
    model_type: 'llava_llama',
    mm_vision_tower: visionTowerName,
    mm_hidden_size: c.vision_config.hidden_size,
    mm_projector_type: c.projector_type,
    mm_vision_select_layer: c.vision_feature_layer,
    mm_vision_select_feature: c.vision_feature_select_strategy === 'default' ? 'patch' : 'cls_patch',
    mm_patch_merge_type: 'flat',
    mm_use_im_start_end: false,
    mm_use_im_patch_token: false,
    use_mm_proj: true,
    tokenizer_padding_side: 'right',
    torch_dtype: model.parameters()[0]!.dtype,
    ...extra,
  };
}

/** Writes config.json and the (sharded) weights in the base's layout. */
export function saveModelFolder(
  dir: string,
  base: BaseModel,
  options: { maxShardSize?: number | string; configExtra?: Record<string, unknown> } = {},
): void {
  if (base.layout === 'llava-hf') {
    base.model.savePretrained(dir, { maxShardSize: options.maxShardSize });
    return;
  }
  mkdirSync(dir, { recursive: true });
  const state = Object.fromEntries(
    base.model.namedParameters().map(([n, p]) => [originalKey(n, base.model.config.projector_type), p]),
  );
  saveShardedSafetensors(dir, state, { maxShardSize: options.maxShardSize });
  const json =
    JSON.stringify(originalConfigJson(base.model, base.visionTowerName, options.configExtra ?? {}), null, 2) + '\n';
  writeFileAtomic(join(dir, 'config.json'), (fd) => writeAll(fd, Buffer.from(json)));
}
