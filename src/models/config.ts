// Model configurations as transformers defines them: a config.json is read, and every key it
// leaves out takes transformers' default (llava-hf checkpoints omit defaults inside nested
// configs). Field names are the config.json keys, so a config round-trips unchanged.

import { aspectRatio, check, maxLength, visionLayer } from './config-keys.js';

export type RopeScaling = { type: 'linear' | 'dynamic'; factor: number };

export type LlamaConfig = {
  model_type: 'llama';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  hidden_act: 'silu';
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: RopeScaling | null;
  attention_bias: boolean;
  tie_word_embeddings: boolean;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
};

export type ClipHiddenAct = 'quick_gelu' | 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh';

export type CLIPVisionConfig = {
  model_type: 'clip_vision_model';
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_channels: number;
  image_size: number;
  patch_size: number;
  hidden_act: ClipHiddenAct;
  layer_norm_eps: number;
  projection_dim: number;
};

export type ProjectorType = 'linear' | 'mlp2x_gelu' | 'identity';

export type LlavaConfig = {
  model_type: 'llava';
  text_config: LlamaConfig;
  vision_config: CLIPVisionConfig;
  image_token_index: number;
  vision_feature_layer: number;
  vision_feature_select_strategy: 'default' | 'full';
  /** llava-hf writes `projector_hidden_act` (mlp2x_gelu); the original LLaVA layout `mm_projector_type`. */
  projector_type: ProjectorType;
  projector_hidden_act: 'gelu';
  ignore_index: number;
  pad_token_id: number | null;
  image_seq_length: number;
  /** The original layout's cap on the spliced sequence (spec §5.4 step 4); null: no cap. */
  tokenizer_model_max_length: number | null;
  /** How images are fitted before the CLIP processor: 'pad' (LLaVA-1.5's expand2square) or 'square' (resize and crop). */
  image_aspect_ratio: 'pad' | 'square';
};

type Json = Record<string, unknown>;

const LLAMA_DEFAULTS: Omit<LlamaConfig, 'num_key_value_heads'> = {
  model_type: 'llama',
  vocab_size: 32000,
  hidden_size: 4096,
  intermediate_size: 11008,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  hidden_act: 'silu',
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  rope_scaling: null,
  attention_bias: false,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: null,
};

// CLIPVisionConfig() defaults (ViT-B/32); LlavaConfig uses ViT-L/14-336 when vision_config is absent.
const CLIP_DEFAULTS: CLIPVisionConfig = {
  model_type: 'clip_vision_model',
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  num_channels: 3,
  image_size: 224,
  patch_size: 32,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  projection_dim: 512,
};
const LLAVA_DEFAULT_VISION: Json = {
  intermediate_size: 4096,
  hidden_size: 1024,
  patch_size: 14,
  image_size: 336,
  num_hidden_layers: 24,
  num_attention_heads: 16,
  projection_dim: 768,
};

function pick<T extends object>(defaults: T, json: Json): T {
  const out = { ...defaults } as Record<string, unknown>;
  for (const key of Object.keys(defaults)) if (json[key] !== undefined) out[key] = json[key];
  return out as T;
}

export function llamaConfig(json: Json, where = 'config.json'): LlamaConfig {
  const type = json.model_type ?? 'llama';
  check(
    type === 'llama' || type === 'llava_llama' || type === 'llava',
    where,
    `model_type '${String(type)}' is not a LLaMA-family model (expected 'llama')`,
  );
  const c = pick({ ...LLAMA_DEFAULTS, num_key_value_heads: 0 }, json);
  c.model_type = 'llama';
  c.num_key_value_heads = (json.num_key_value_heads as number | undefined) ?? c.num_attention_heads;
  check(
    c.hidden_size % c.num_attention_heads === 0,
    where,
    `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`,
  );
  check(
    c.num_attention_heads % c.num_key_value_heads === 0,
    where,
    `num_attention_heads ${c.num_attention_heads} is not divisible by num_key_value_heads ${c.num_key_value_heads}`,
  );
  check(c.hidden_act === 'silu', where, `hidden_act '${c.hidden_act}' is not supported for LLaMA (expected 'silu')`);
  if (c.rope_scaling) {
    check(
      c.rope_scaling.type === 'linear' || c.rope_scaling.type === 'dynamic',
      where,
      `rope_scaling type '${c.rope_scaling.type}' is not supported (expected 'linear' or 'dynamic')`,
    );
    check(c.rope_scaling.factor > 1, where, `rope_scaling factor must be > 1, got ${c.rope_scaling.factor}`);
  }
  return c;
}

export function clipVisionConfig(json: Json, where = 'config.json'): CLIPVisionConfig {
  // A full CLIPModel config nests the tower under vision_config.
  const src = (json.model_type === 'clip' && json.vision_config ? json.vision_config : json) as Json;
  const type = src.model_type ?? 'clip_vision_model';
  check(
    type === 'clip_vision_model',
    where,
    `model_type '${String(type)}' is not a CLIP vision model (expected 'clip_vision_model' or 'clip')`,
  );
  const c = pick(CLIP_DEFAULTS, src);
  check(
    ['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh'].includes(c.hidden_act),
    where,
    `hidden_act '${c.hidden_act}' is not supported for CLIP`,
  );
  check(
    c.image_size % c.patch_size === 0,
    where,
    `image_size ${c.image_size} is not a multiple of patch_size ${c.patch_size}`,
  );
  check(
    c.hidden_size % c.num_attention_heads === 0,
    where,
    `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`,
  );
  return c;
}

/** A llava-hf config.json (model_type 'llava'). */
export function llavaConfig(json: Json, where = 'config.json'): LlavaConfig {
  check(json.model_type === 'llava', where, `model_type '${String(json.model_type)}' is not 'llava'`);
  const vision = clipVisionConfig(
    { model_type: 'clip_vision_model', ...((json.vision_config as Json | undefined) ?? LLAVA_DEFAULT_VISION) },
    `${where} vision_config`,
  );
  const text = llamaConfig((json.text_config as Json | undefined) ?? {}, `${where} text_config`);
  const act = (json.projector_hidden_act as string | undefined) ?? 'gelu';
  check(act === 'gelu', where, `projector_hidden_act '${act}' is not supported (expected 'gelu')`);
  const strategy = (json.vision_feature_select_strategy as string | undefined) ?? 'default';
  check(
    strategy === 'default' || strategy === 'full',
    where,
    `vision_feature_select_strategy '${strategy}' is not 'default' or 'full'`,
  );
  return {
    model_type: 'llava',
    text_config: text,
    vision_config: vision,
    image_token_index: (json.image_token_index as number | undefined) ?? 32000,
    vision_feature_layer: visionLayer(json.vision_feature_layer ?? -2, 'vision_feature_layer', where),
    vision_feature_select_strategy: strategy as LlavaConfig['vision_feature_select_strategy'],
    projector_type: 'mlp2x_gelu',
    projector_hidden_act: 'gelu',
    ignore_index: (json.ignore_index as number | undefined) ?? -100,
    pad_token_id: (json.pad_token_id as number | null | undefined) ?? text.pad_token_id,
    image_seq_length: (json.image_seq_length as number | undefined) ?? 576,
    tokenizer_model_max_length: maxLength(json.tokenizer_model_max_length, where),
    image_aspect_ratio: aspectRatio(json.image_aspect_ratio, where),
  };
}

/**
 * The config.json that transformers writes for this config (llava-hf layout), plus the
 * original layout's tokenizer_model_max_length and image_aspect_ratio, which transformers keeps
 * as attributes. Throws for what the llava-hf layout cannot hold.
 */
export function llavaConfigJson(c: LlavaConfig): Json {
  if (c.projector_type !== 'mlp2x_gelu')
    throw new Error(
      `savePretrained: transformers' LlavaForConditionalGeneration has only the mlp2x_gelu projector; this model's is '${c.projector_type}'`,
    );
  if (c.image_token_index < 0)
    throw new Error(
      'savePretrained: the llava-hf layout needs an image token inside the vocabulary; this model uses the original -200 placeholder',
    );
  return {
    architectures: ['LlavaForConditionalGeneration'],
    model_type: 'llava',
    ignore_index: c.ignore_index,
    image_token_index: c.image_token_index,
    image_seq_length: c.image_seq_length,
    pad_token_id: c.pad_token_id,
    projector_hidden_act: c.projector_hidden_act,
    vision_feature_layer: c.vision_feature_layer,
    vision_feature_select_strategy: c.vision_feature_select_strategy,
    text_config: { ...c.text_config },
    vision_config: { ...c.vision_config },
    tie_word_embeddings: false,
    image_aspect_ratio: c.image_aspect_ratio,
    ...(c.tokenizer_model_max_length === null ? {} : { tokenizer_model_max_length: c.tokenizer_model_max_length }),
  };
}
