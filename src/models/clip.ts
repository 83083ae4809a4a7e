// CLIP's vision transformer, module for module and name for name as transformers'
// CLIPVisionModel (4.40): patch convolution, class and position embeddings, pre_layrnorm (sic,
// the checkpoint's spelling), pre-LN encoder layers, post_layernorm for the pooled CLS only.
import { Conv2d, LayerNorm, Linear, Module, ModuleList, Embedding } from '../nn/index.js';
import { arange, attention, cat, gelu, quickGelu, scope, type Tensor } from '../torch/index.js';
import type { CLIPVisionConfig } from './config.js';
import { loadClipVision } from './hf-layout.js';
import type { LoadOptions } from './loader.js';
import { savePretrained, type SaveOptions } from './save.js';

/** What an encoder layer reads of its tower's config (the vision and the text tower share the layers). */
export type CLIPLayerConfig = Pick<
  CLIPVisionConfig,
  'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'num_attention_heads' | 'hidden_act' | 'layer_norm_eps'
>;

export class CLIPVisionEmbeddings extends Module {
  readonly class_embedding: Tensor;
  readonly patch_embedding: Conv2d;
  readonly position_embedding: Embedding;
  readonly numPositions: number;
  constructor(readonly config: CLIPVisionConfig) {
    super();
    const D = config.hidden_size;
    this.class_embedding = this.initParameter('class_embedding', [D], (t) => t.normal_());
    this.patch_embedding = this.registerModule(
      'patch_embedding',
      new Conv2d(config.num_channels, D, config.patch_size, config.patch_size, 0, false),
    );
    this.numPositions = (config.image_size / config.patch_size) ** 2 + 1;
    this.position_embedding = this.registerModule('position_embedding', new Embedding(this.numPositions, D));
  }
  /** pixels [N, 3, H, W] -> [N, 1 + (H/p)·(W/p), D]: CLS first, then patches row-major. */
  forward(pixels: Tensor): Tensor {
    const { image_size: size, num_channels: channels } = this.config;
    const [N, C, H, W] = pixels.shape as [number, number, number, number];
    if (C !== channels || H !== size || W !== size) {
      throw new Error(
        `CLIPVisionModel: pixel values must be [N, ${channels}, ${size}, ${size}], got [${pixels.shape}]`,
      );
    }
    const weightDtype = this.patch_embedding.weight.dtype;
    const patches = this.patch_embedding.forward(pixels.to(weightDtype)).flatten(2).transpose(1, 2); // [N, P, D]
    const cls = this.class_embedding.view(1, 1, -1).expand(N, 1, this.config.hidden_size);
    return cat([cls, patches], 1).add(
      this.position_embedding.forward(arange(0, this.numPositions, 1, { device: pixels.device }).view(1, -1)),
    );
  }
}

export class CLIPAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly out_proj: Linear;
  readonly heads: number;
  readonly headDim: number;
  constructor(config: CLIPLayerConfig) {
    super();
    const D = config.hidden_size;
    this.heads = config.num_attention_heads;
    this.headDim = D / this.heads;
    this.q_proj = this.registerModule('q_proj', new Linear(D, D));
    this.k_proj = this.registerModule('k_proj', new Linear(D, D));
    this.v_proj = this.registerModule('v_proj', new Linear(D, D));
    this.out_proj = this.registerModule('out_proj', new Linear(D, D));
  }
  /**
   * softmax(q·kᵀ/√d + mask)·v: x [N, T, D] -> [N, T, D]. Bidirectional (the vision tower), or with an additive
   * mask [1 or N, 1, T, T] (the text tower's causal mask). transformers scales q before the product; scaling the
   * product instead differs by rounding only, and lets the tower use the blocked attention kernel.
   */
  forward(x: Tensor, mask?: Tensor): Tensor {
    return scope(() => {
      const [N, T, D] = x.shape as [number, number, number];
      const split = (t: Tensor) => t.view(N, T, this.heads, this.headDim).transpose(1, 2); // [N, H, T, d]
      const q = split(this.q_proj.forward(x));
      const k = split(this.k_proj.forward(x));
      const v = split(this.v_proj.forward(x));
      const out = attention(q, k, v, mask); // [N, H, T, d]
      return this.out_proj.forward(out.transpose(1, 2).reshape(N, T, D));
    });
  }
}

export class CLIPMLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(readonly config: CLIPLayerConfig) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(config.hidden_size, config.intermediate_size));
    this.fc2 = this.registerModule('fc2', new Linear(config.intermediate_size, config.hidden_size));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.fc1.forward(x);
      const act = this.config.hidden_act;
      return this.fc2.forward(act === 'quick_gelu' ? quickGelu(h) : gelu(h, act === 'gelu' ? 'none' : 'tanh'));
    });
  }
}

export class CLIPEncoderLayer extends Module {
  readonly self_attn: CLIPAttention;
  readonly layer_norm1: LayerNorm;
  readonly mlp: CLIPMLP;
  readonly layer_norm2: LayerNorm;
  constructor(config: CLIPLayerConfig) {
    super();
    this.self_attn = this.registerModule('self_attn', new CLIPAttention(config));
    this.layer_norm1 = this.registerModule('layer_norm1', new LayerNorm(config.hidden_size, config.layer_norm_eps));
    this.mlp = this.registerModule('mlp', new CLIPMLP(config));
    this.layer_norm2 = this.registerModule('layer_norm2', new LayerNorm(config.hidden_size, config.layer_norm_eps));
  }
  forward(x: Tensor, mask?: Tensor): Tensor {
    return scope(() => {
      const h = x.add(this.self_attn.forward(this.layer_norm1.forward(x), mask));
      return h.add(this.mlp.forward(this.layer_norm2.forward(h)));
    });
  }
}

export class CLIPEncoder extends Module {
  readonly layers: ModuleList<CLIPEncoderLayer>;
  constructor(config: CLIPLayerConfig) {
    super();
    this.layers = this.registerModule(
      'layers',
      new ModuleList(Array.from({ length: config.num_hidden_layers }, () => new CLIPEncoderLayer(config))),
    );
  }
}

export class CLIPVisionTransformer extends Module {
  readonly embeddings: CLIPVisionEmbeddings;
  readonly pre_layrnorm: LayerNorm;
  readonly encoder: CLIPEncoder;
  readonly post_layernorm: LayerNorm;
  constructor(readonly config: CLIPVisionConfig) {
    super();
    this.embeddings = this.registerModule('embeddings', new CLIPVisionEmbeddings(config));
    this.pre_layrnorm = this.registerModule('pre_layrnorm', new LayerNorm(config.hidden_size, config.layer_norm_eps));
    this.encoder = this.registerModule('encoder', new CLIPEncoder(config));
    this.post_layernorm = this.registerModule(
      'post_layernorm',
      new LayerNorm(config.hidden_size, config.layer_norm_eps),
    );
  }
}

export type CLIPVisionOutput = { lastHiddenState: Tensor; poolerOutput: Tensor; hiddenStates?: Tensor[] };

export class CLIPVisionModel extends Module {
  /** Loads config.json and the safetensors weights of a Hugging Face checkpoint folder. */
  static fromPretrained(dir: string, options?: LoadOptions): CLIPVisionModel {
    return loadClipVision(CLIPVisionModel, dir, options);
  }

  /** Writes config.json and model.safetensors (sharded past maxShardSize) as transformers' save_pretrained. */
  savePretrained(dir: string, options?: SaveOptions): void {
    savePretrained(this, { architectures: ['CLIPVisionModel'], ...this.config }, dir, options);
  }

  readonly vision_model: CLIPVisionTransformer;
  constructor(readonly config: CLIPVisionConfig) {
    super();
    this.vision_model = this.registerModule('vision_model', new CLIPVisionTransformer(config));
  }

  /**
   * pixelValues [N, 3, S, S] -> lastHiddenState [N, 1 + P, D] (no post-norm), poolerOutput =
   * post_layernorm(CLS), and with outputHiddenStates the [layers + 1] states as transformers
   * ([0] after pre_layrnorm, [i] the output of layer i).
   */
  forward(input: { pixelValues: Tensor; outputHiddenStates?: boolean }): CLIPVisionOutput {
    const states = this.#encode(input.pixelValues, this.config.num_hidden_layers, input.outputHiddenStates ?? false);
    const last = states[states.length - 1]!;
    return {
      lastHiddenState: last,
      poolerOutput: this.vision_model.post_layernorm.forward(last.select(1, 0)),
      hiddenStates: input.outputHiddenStates ? states : undefined,
    };
  }

  /**
   * Hidden state `index` alone ([0] after pre_layrnorm, [i] the output of layer i): runs only the
   * layers it needs and keeps no other (LLaVA reads layer -2, the last layer would be wasted).
   */
  hiddenState(pixelValues: Tensor, index: number): Tensor {
    return this.#encode(pixelValues, index, false)[0]!;
  }

  /** States 0..layers when keepAll, else only the last; each other layer output goes as soon as the next exists. */
  #encode(pixelValues: Tensor, layers: number, keepAll: boolean): Tensor[] {
    const vm = this.vision_model;
    let x = vm.pre_layrnorm.forward(vm.embeddings.forward(pixelValues));
    const states = [x];
    for (const layer of vm.encoder.layers.items.slice(0, layers)) {
      const next = layer.forward(x);
      if (keepAll) states.push(next);
      else x.dispose();
      x = next;
    }
    return keepAll ? states : [x];
  }
}
