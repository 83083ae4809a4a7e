// Loading and saving checkpoints: the Hugging Face layouts (LlamaForCausalLM, CLIPVisionModel,
// llava-hf's LlavaForConditionalGeneration) and the original LLaVA layout (model.*,
// model.mm_projector.*, the CLIP tower in its own folder named by mm_vision_tower), plus a
// stage-1 projector file. Models are built on the 'meta' device and each tensor is read once,
// straight into its parameter, so a checkpoint never sits in memory twice.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { writeAll, writeFileAtomic } from '../io/atomic.js';
import { openSafetensors, saveShardedSafetensors } from '../io/tensors.js';
import { openTorchBin } from '../io/torch-bin-tensors.js';
import type { Module } from '../nn/index.js';
import { isFloating, withDevice, type DType, type Tensor } from '../torch/index.js';
import { CLIPVisionModel } from './clip.js';
import { clipVisionConfig, llamaConfig, llavaConfig, llavaConfigJson, type LlavaConfig } from './config.js';
import { LlamaForCausalLM } from './llama.js';
import { LlavaForConditionalGeneration } from './llava.js';
import { projectorType } from './projector.js';

export type LoadOptions = {
  /** Compute dtype of the weights; 'auto' keeps the checkpoint's (transformers' torch_dtype). Default float32, as transformers. */
  dtype?: DType | 'auto';
  /** Throw listing missing and unexpected keys (default); false loads what matches and initialises the rest randomly. */
  strict?: boolean;
  /** Original LLaVA layout: the CLIP folder, when mm_vision_tower does not resolve to one. */
  visionTower?: string;
};

type WeightSource = { names(): string[]; readTensor(name: string): Tensor; close(): void };

export function readConfig(dir: string): Record<string, unknown> {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new Error(`${dir}: no config.json (is this a model folder?)`);
  try {
    const json: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('not a JSON object');
    return json as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/** A folder's weights: safetensors when present (as transformers prefers), else torch.save .bin files. */
function openWeights(dir: string): WeightSource {
  const files = readdirSync(dir);
  if (files.some((f) => f === 'model.safetensors' || f === 'model.safetensors.index.json')) return openSafetensors(dir);
  if (files.some((f) => f === 'pytorch_model.bin' || f === 'pytorch_model.bin.index.json')) return openTorchBin(dir);
  throw new Error(
    `${dir}: no weights (model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json)`,
  );
}

/** One weights file: .safetensors, or a torch.save .bin (mm_projector.bin, non_lora_trainables.bin). */
function openWeightsFile(path: string): WeightSource {
  if (path.endsWith('.safetensors')) return openSafetensors(path);
  if (path.endsWith('.bin')) return openTorchBin(path);
  throw new Error(`${path}: expected a .safetensors or .bin weights file`);
}

/**
 * Builds `make()` on 'meta' (strict) or for real (non-strict, so unloaded parameters keep their
 * random initialisation), then assigns every tensor that `rename` maps to one of its keys.
 * `rename` returns undefined for checkpoint keys the model ignores on purpose.
 */
function load<M extends Module>(
  make: () => M,
  sources: { source: WeightSource; rename: (key: string) => string | undefined }[],
  options: LoadOptions,
  where: string,
): M {
  const strict = options.strict ?? true;
  const model = strict ? withDevice('meta', make) : make();
  const own = model.stateDict();
  const found = new Map<string, { source: WeightSource; key: string }>();
  const unexpected: string[] = [];
  for (const { source, rename } of sources) {
    for (const key of source.names()) {
      const name = rename(key);
      if (name === undefined) continue;
      if (own.has(name)) found.set(name, { source, key });
      else unexpected.push(key);
    }
  }
  const missing = [...own.keys()].filter((k) => !found.has(k));
  if (strict && (missing.length || unexpected.length)) {
    throw new Error(
      `${where}: the checkpoint does not match ${model.constructor.name}` +
        (missing.length ? `\n  missing keys (${missing.length}): ${missing.join(', ')}` : '') +
        (unexpected.length ? `\n  unexpected keys (${unexpected.length}): ${unexpected.join(', ')}` : '') +
        '\n  (pass strict: false to load what matches)',
    );
  }
  for (const [name, { source, key }] of found) {
    const target = own.get(name)!;
    const loaded = source.readTensor(key);
    if (loaded.shape.join() !== target.shape.join()) {
      throw new Error(
        `${where}: '${key}' has shape [${loaded.shape}] in the checkpoint but the model expects [${target.shape}]`,
      );
    }
    const dtype = options.dtype ?? 'float32';
    const cast = dtype === 'auto' || loaded.dtype === dtype ? loaded : loaded.to(dtype);
    target.assign(cast);
    if (cast !== loaded) cast.dispose();
    loaded.dispose();
  }
  // Non-strict: parameters the checkpoint lacks keep their random initialisation, in the dtype
  // the loaded ones have.
  const dtype =
    options.dtype === 'auto' ? [...found.keys()].map((k) => own.get(k)!.dtype).find(isFloating) : options.dtype;
  if (!strict && dtype) {
    for (const [name, t] of own) {
      if (found.has(name) || !isFloating(t.dtype) || t.dtype === dtype) continue;
      const cast = t.to(dtype);
      t.assign(cast);
      cast.dispose();
    }
  }
  for (const { source } of sources) source.close();
  return model;
}

const ignorePositionIds = (key: string) => (key.endsWith('embeddings.position_ids') ? undefined : key);

export function loadLlama(dir: string, options: LoadOptions = {}): LlamaForCausalLM {
  const config = llamaConfig(readConfig(dir), join(dir, 'config.json'));
  // A tied lm_head is embed_tokens itself; some checkpoints still carry its copy.
  const rename = (k: string) =>
    config.tie_word_embeddings && k === 'lm_head.weight'
      ? undefined
      : k.includes('rotary_emb.inv_freq')
        ? undefined
        : k;
  return load(() => new LlamaForCausalLM(config), [{ source: openWeights(dir), rename }], options, dir);
}

export function loadClipVision(dir: string, options: LoadOptions = {}): CLIPVisionModel {
  const json = readConfig(dir);
  const config = clipVisionConfig(json, join(dir, 'config.json'));
  // A full CLIPModel checkpoint also holds the text tower and projections: only vision_model.* is ours.
  const rename = (k: string) =>
    k.startsWith('vision_model.') ? ignorePositionIds(k) : json.model_type === 'clip' ? undefined : k;
  return load(() => new CLIPVisionModel(config), [{ source: openWeights(dir), rename }], options, dir);
}

export function loadLlava(dir: string, options: LoadOptions = {}): LlavaForConditionalGeneration {
  const json = readConfig(dir);
  if ('mm_vision_tower' in json || 'mm_projector_type' in json || 'mm_hidden_size' in json)
    return loadOriginalLlava(dir, json, options);
  const config = llavaConfig(json, join(dir, 'config.json'));
  const rename = (k: string) => (k.includes('rotary_emb.inv_freq') ? undefined : ignorePositionIds(k));
  return load(() => new LlavaForConditionalGeneration(config), [{ source: openWeights(dir), rename }], options, dir);
}

/** The original LLaVA repository's layout (LlavaLlamaForCausalLM), renamed onto llava-hf's modules. */
function loadOriginalLlava(
  dir: string,
  json: Record<string, unknown>,
  options: LoadOptions,
): LlavaForConditionalGeneration {
  const where = join(dir, 'config.json');
  const towerDir = findVisionTower(dir, String(json.mm_vision_tower ?? ''), options.visionTower);
  const selectFeature = (json.mm_vision_select_feature as string | undefined) ?? 'patch';
  if (selectFeature !== 'patch' && selectFeature !== 'cls_patch')
    throw new Error(`${where}: mm_vision_select_feature '${selectFeature}' is not 'patch' or 'cls_patch'`);
  const text = llamaConfig(json, where);
  const config: LlavaConfig = {
    model_type: 'llava',
    text_config: text,
    vision_config: clipVisionConfig(readConfig(towerDir), join(towerDir, 'config.json')),
    image_token_index: -200,
    vision_feature_layer: (json.mm_vision_select_layer as number | undefined) ?? -1,
    vision_feature_select_strategy: selectFeature === 'patch' ? 'default' : 'full',
    projector_type: projectorType((json.mm_projector_type as string | undefined) ?? 'linear', where),
    projector_hidden_act: 'gelu',
    ignore_index: -100,
    pad_token_id: text.pad_token_id,
    image_seq_length: 0,
  };
  config.image_seq_length = (config.vision_config.image_size / config.vision_config.patch_size) ** 2;
  const renameLlm = (k: string): string | undefined => {
    if (k.includes('rotary_emb.inv_freq')) return undefined;
    if (k.startsWith('model.mm_projector.'))
      return `multi_modal_projector.${projectorKey(k.slice('model.mm_projector.'.length))}`;
    if (k.startsWith('model.vision_tower.vision_tower.'))
      return `vision_tower.${ignorePositionIds(k.slice('model.vision_tower.vision_tower.'.length))}`;
    if (k.startsWith('model.')) return `language_model.${k}`;
    if (k === 'lm_head.weight') return text.tie_word_embeddings ? undefined : 'language_model.lm_head.weight';
    return k;
  };
  const llm = openWeights(dir);
  const towerInCheckpoint = llm.names().some((k) => k.startsWith('model.vision_tower.'));
  const sources = [{ source: llm, rename: renameLlm }];
  if (!towerInCheckpoint) {
    const towerJson = readConfig(towerDir);
    const renameTower = (k: string) =>
      k.startsWith('vision_model.')
        ? ignorePositionIds(`vision_tower.${k}`)
        : towerJson.model_type === 'clip'
          ? undefined
          : `vision_tower.${k}`;
    sources.push({ source: openWeights(towerDir), rename: renameTower });
  }
  return load(() => new LlavaForConditionalGeneration(config), sources, options, dir);
}

/** mm_projector.{0,2}.* (mlp2x_gelu) or mm_projector.* (linear) -> linear_1 / linear_2. */
function projectorKey(rest: string): string {
  if (rest.startsWith('0.')) return `linear_1.${rest.slice(2)}`;
  if (rest.startsWith('2.')) return `linear_2.${rest.slice(2)}`;
  return `linear_1.${rest}`;
}

/** Where the CLIP folder named by mm_vision_tower is: as given, beside the checkpoint, or in the Hugging Face cache. */
function findVisionTower(dir: string, name: string, explicit: string | undefined): string {
  const candidates = explicit
    ? [explicit]
    : [
        name,
        join(dir, name),
        join(dirname(resolve(dir)), name),
        join(dirname(resolve(dir)), basename(name)),
        ...hfCacheSnapshots(name),
      ];
  const found = candidates.find((c) => c && existsSync(join(c, 'config.json')));
  if (!found) {
    throw new Error(
      `${dir}: the vision tower '${name}' (mm_vision_tower) was not found; looked in:\n  ${candidates.filter(Boolean).join('\n  ')}\n  pass visionTower: '<folder of the CLIP checkpoint>'`,
    );
  }
  return found;
}

function hfCacheSnapshots(name: string): string[] {
  if (!name.includes('/')) return [];
  const hub = process.env.HF_HUB_CACHE ?? join(process.env.HF_HOME ?? join(homedir(), '.cache', 'huggingface'), 'hub');
  const snapshots = join(hub, `models--${name.replace('/', '--')}`, 'snapshots');
  return existsSync(snapshots)
    ? readdirSync(snapshots)
        .map((s) => join(snapshots, s))
        .filter((p) => statSync(p).isDirectory())
    : [];
}

/**
 * Loads a stage-1 projector file (mm_projector.bin or .safetensors, keys containing
 * mm_projector.*) into the model's projector, as the reference's --pretrain_mm_mlp_adapter.
 */
export function loadProjector(model: LlavaForConditionalGeneration, path: string): void {
  const state = new Map<string, Tensor>();
  const source = openWeightsFile(path);
  const entries = source.names().map((name) => [name, source.readTensor(name)] as const);
  source.close();
  for (const [key, t] of entries) {
    const at = key.indexOf('mm_projector.');
    if (at >= 0) state.set(projectorKey(key.slice(at + 'mm_projector.'.length)), t);
  }
  if (state.size === 0) throw new Error(`${path}: no mm_projector.* tensors in this file`);
  model.multi_modal_projector.loadStateDict(state);
}

/** Writes config.json and the weights (sharded past maxShardSize) in the Hugging Face layout transformers loads. */
export function savePretrained(
  model: LlamaForCausalLM | CLIPVisionModel | LlavaForConditionalGeneration,
  dir: string,
  options: { maxShardSize?: number | string } = {},
): void {
  let config: Record<string, unknown>;
  if (model instanceof LlavaForConditionalGeneration) {
    if (model.config.projector_type !== 'mlp2x_gelu')
      throw new Error(
        `savePretrained: transformers' LlavaForConditionalGeneration has only the mlp2x_gelu projector; this model's is '${model.config.projector_type}'`,
      );
    if (model.config.image_token_index < 0)
      throw new Error(
        'savePretrained: the llava-hf layout needs an image token inside the vocabulary; this model uses the original -200 placeholder',
      );
    config = llavaConfigJson(model.config);
  } else if (model instanceof LlamaForCausalLM) {
    config = { architectures: ['LlamaForCausalLM'], ...model.config };
  } else {
    config = { architectures: ['CLIPVisionModel'], ...model.config };
  }
  mkdirSync(dir, { recursive: true });
  saveShardedSafetensors(dir, Object.fromEntries(model.stateDict()), { maxShardSize: options.maxShardSize });
  const json = JSON.stringify({ ...config, torch_dtype: model.parameters()[0]?.dtype ?? 'float32' }, null, 2) + '\n';
  writeFileAtomic(join(dir, 'config.json'), (fd) => writeAll(fd, Buffer.from(json)));
}
