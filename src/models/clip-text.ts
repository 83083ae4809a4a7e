// CLIP's text transformer, module for module and name for name as transformers' CLIPTextModel (4.40): token and
// position embeddings, the vision tower's pre-LN encoder layers under a causal mask, final_layer_norm, and the
// pooled output read at the end-of-text position the way 4.40 finds it.
import { Embedding, LayerNorm, Module } from '../nn/index.js';
import { arange, full, scope, zeros, type Tensor } from '../torch/index.js';
import { CLIPEncoder } from './clip.js';
import { readConfig } from './config-file.js';
import { check } from './config-keys.js';
import type { ClipHiddenAct } from './config.js';
import { checkLoadOptions, loadWeights, type LoadOptions } from './loader.js';
import { savePretrained, type SaveOptions } from './save.js';
import { isDerivedBuffer, withWeights } from './weights.js';

export type CLIPTextConfig = {
  model_type: 'clip_text_model';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  projection_dim: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: ClipHiddenAct;
  layer_norm_eps: number;
  pad_token_id: number;
  bos_token_id: number;
  eos_token_id: number;
};

// CLIPTextConfig() defaults (openai/clip-vit-base-patch32's text tower).
const TEXT_DEFAULTS: CLIPTextConfig = {
  model_type: 'clip_text_model',
  vocab_size: 49408,
  hidden_size: 512,
  intermediate_size: 2048,
  projection_dim: 512,
  num_hidden_layers: 12,
  num_attention_heads: 8,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  pad_token_id: 1,
  bos_token_id: 49406,
  eos_token_id: 49407,
};

/** A CLIPTextConfig from config.json (a CLIPModel's text_config when model_type is 'clip'); absent keys take defaults. */
export function clipTextConfig(json: Record<string, unknown>, where = 'config.json'): CLIPTextConfig {
  const src = (json.model_type === 'clip' ? (json.text_config ?? {}) : json) as Record<string, unknown>;
  const type = src.model_type ?? 'clip_text_model';
  check(type === 'clip_text_model', where, `model_type '${String(type)}' is not a CLIP text model`);
  const c = { ...TEXT_DEFAULTS };
  for (const key of Object.keys(c) as (keyof CLIPTextConfig)[])
    if (src[key] !== undefined) (c as Record<string, unknown>)[key] = src[key];
  check(
    c.hidden_size % c.num_attention_heads === 0,
    where,
    `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`,
  );
  return c;
}

export class CLIPTextEmbeddings extends Module {
  readonly token_embedding: Embedding;
  readonly position_embedding: Embedding;
  constructor(readonly config: CLIPTextConfig) {
    super();
    this.token_embedding = this.registerModule('token_embedding', new Embedding(config.vocab_size, config.hidden_size));
    this.position_embedding = this.registerModule(
      'position_embedding',
      new Embedding(config.max_position_embeddings, config.hidden_size),
    );
  }
  /** ids [N, T] (or given inputsEmbeds [N, T, D]) + positions 0..T-1 -> [N, T, D] */
  forward(inputIds: Tensor, inputsEmbeds?: Tensor): Tensor {
    const T = inputIds.size(1);
    if (T > this.config.max_position_embeddings)
      throw new Error(
        `CLIPTextModel: ${T} tokens, more than max_position_embeddings ${this.config.max_position_embeddings}`,
      );
    const tokens = inputsEmbeds ?? this.token_embedding.forward(inputIds);
    return tokens.add(this.position_embedding.forward(arange(0, T, 1, { device: inputIds.device }).view(1, T)));
  }
}

export class CLIPTextTransformer extends Module {
  readonly embeddings: CLIPTextEmbeddings;
  readonly encoder: CLIPEncoder;
  readonly final_layer_norm: LayerNorm;
  constructor(readonly config: CLIPTextConfig) {
    super();
    this.embeddings = this.registerModule('embeddings', new CLIPTextEmbeddings(config));
    this.encoder = this.registerModule('encoder', new CLIPEncoder(config));
    this.final_layer_norm = this.registerModule(
      'final_layer_norm',
      new LayerNorm(config.hidden_size, config.layer_norm_eps),
    );
  }
}

export type CLIPTextOutput = { lastHiddenState: Tensor; poolerOutput: Tensor };

export class CLIPTextModel extends Module {
  static fromPretrained(dir: string, options: LoadOptions = {}): CLIPTextModel {
    checkLoadOptions(options, dir);
    const json = readConfig(dir);
    const config = clipTextConfig(json, `${dir}/config.json`);
    // A full CLIPModel checkpoint also holds the vision tower and projections: only text_model.* is ours.
    const rename = (k: string) =>
      isDerivedBuffer(k) ? undefined : k.startsWith('text_model.') || json.model_type !== 'clip' ? k : undefined;
    return withWeights((open) =>
      loadWeights(() => new CLIPTextModel(config), [{ source: open(dir), rename }], options, dir),
    );
  }

  savePretrained(dir: string, options?: SaveOptions): void {
    savePretrained(this, { architectures: ['CLIPTextModel'], ...this.config }, dir, options);
  }

  readonly text_model: CLIPTextTransformer;
  constructor(readonly config: CLIPTextConfig) {
    super();
    this.text_model = this.registerModule('text_model', new CLIPTextTransformer(config));
  }

  /**
   * inputIds [N, T] int64 -> lastHiddenState [N, T, D] after final_layer_norm, poolerOutput [N, D] at the end of
   * text: 4.40 takes argmax(input_ids) when eos_token_id is 2 (configs from before its fix, where the end-of-text
   * token had the largest id), else the first position holding eos_token_id. inputsEmbeds [N, T, D] replaces the
   * token embeddings (the ids still place the pooled position).
   */
  forward(input: { inputIds: Tensor; inputsEmbeds?: Tensor }): CLIPTextOutput {
    return scope(() => {
      const tm = this.text_model;
      const { inputIds } = input;
      const [N, T] = inputIds.shape as [number, number];
      let x = tm.embeddings.forward(inputIds, input.inputsEmbeds);
      const mask = causalMask(T, x.dtype, x.device); // [1, 1, T, T]
      for (const layer of tm.encoder.layers) x = layer.forward(x, mask);
      const last = tm.final_layer_norm.forward(x);
      const eos = this.config.eos_token_id;
      const at = eos === 2 ? inputIds.argmax(-1) : inputIds.eq(eos).to('int32').argmax(-1); // [N]
      const pooled = last.index([arange(0, N, 1, { device: last.device }), at]);
      return { lastHiddenState: last, poolerOutput: pooled };
    });
  }
}

/** _create_4d_causal_attention_mask: [1, 1, T, T], 0 on and below the diagonal, the dtype's lowest value above. */
function causalMask(T: number, dtype: Tensor['dtype'], device: string): Tensor {
  const lowest = dtype === 'float64' ? -Number.MAX_VALUE : -3.4028234663852886e38;
  return scope(() => {
    const future = full([T, T], 1, { dtype: 'bool', device }).triu(1);
    return zeros([T, T], { dtype, device }).maskedFill(future, lowest).view(1, 1, T, T);
  });
}
