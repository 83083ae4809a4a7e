// LLaMA-family decoder, module for module and name for name as transformers' modeling_llama
// (4.40, eager attention), so checkpoint keys map one to one and parity can be read line by line.
import { Embedding, Linear, Module, ModuleList, RMSNorm } from '../nn/index.js';
import {
  applyRotary,
  arange,
  attention,
  cat,
  crossEntropy,
  decoderLayer,
  full,
  isGradEnabled,
  linear,
  scope,
  siluMul,
  zeros,
  type Tensor,
} from '../torch/index.js';
import type { LlamaConfig } from './config.js';
import type { KVCache } from './kv-cache.js';
import { RotaryEmbedding } from './rope.js';
import { generate, type GenerationOptions } from './generate.js';
import { loadLlama } from './hf-layout.js';
import type { LoadOptions } from './loader.js';
import { savePretrained, type SaveOptions } from './save.js';

export class LlamaAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;

  constructor(
    config: LlamaConfig,
    readonly layerIdx: number,
  ) {
    super();
    this.heads = config.num_attention_heads;
    this.kvHeads = config.num_key_value_heads;
    this.headDim = config.hidden_size / this.heads;
    const bias = config.attention_bias;
    this.q_proj = this.registerModule('q_proj', new Linear(config.hidden_size, this.heads * this.headDim, bias));
    this.k_proj = this.registerModule('k_proj', new Linear(config.hidden_size, this.kvHeads * this.headDim, bias));
    this.v_proj = this.registerModule('v_proj', new Linear(config.hidden_size, this.kvHeads * this.headDim, bias));
    this.o_proj = this.registerModule('o_proj', new Linear(this.heads * this.headDim, config.hidden_size, bias));
  }

  /** x [B, T, D], cos/sin [B, T, d], mask [B, 1, T, S] additive -> [B, T, D] */
  forward(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor, cache?: KVCache): Tensor {
    return scope(() => {
      const [B, T] = x.shape as [number, number];
      const split = (t: Tensor, h: number) => t.view(B, T, h, this.headDim).transpose(1, 2); // [B, h, T, d]
      const q = applyRotary(split(this.q_proj.forward(x), this.heads), cos, sin);
      let k = applyRotary(split(this.k_proj.forward(x), this.kvHeads), cos, sin);
      let v = split(this.v_proj.forward(x), this.kvHeads);
      if (cache) {
        const past = cache.update(this.layerIdx, k, v);
        k = past.keysT.transpose(2, 3); // [B, h_kv, S, d], a view of the cache's transposed keys
        v = past.values;
      }
      // softmax(q·kᵀ/√d + mask)·v with grouped-query heads, as modeling_llama's eager attention (one call).
      const out = attention(q, k, v, mask) // [B, H, T, d]
        .transpose(1, 2)
        .reshape(B, T, this.heads * this.headDim);
      return this.o_proj.forward(out);
    });
  }
}

export class LlamaMLP extends Module {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;
  constructor(config: LlamaConfig) {
    super();
    this.gate_proj = this.registerModule('gate_proj', new Linear(config.hidden_size, config.intermediate_size, false));
    this.up_proj = this.registerModule('up_proj', new Linear(config.hidden_size, config.intermediate_size, false));
    this.down_proj = this.registerModule('down_proj', new Linear(config.intermediate_size, config.hidden_size, false));
  }
  /** down(silu(gate(x)) · up(x)) */
  forward(x: Tensor): Tensor {
    return scope(() => {
      return this.down_proj.forward(siluMul(this.gate_proj.forward(x), this.up_proj.forward(x)));
    });
  }
}

export class LlamaDecoderLayer extends Module {
  readonly self_attn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly input_layernorm: RMSNorm;
  readonly post_attention_layernorm: RMSNorm;
  constructor(config: LlamaConfig, layerIdx: number) {
    super();
    this.self_attn = this.registerModule('self_attn', new LlamaAttention(config, layerIdx));
    this.mlp = this.registerModule('mlp', new LlamaMLP(config));
    this.input_layernorm = this.registerModule('input_layernorm', new RMSNorm(config.hidden_size, config.rms_norm_eps));
    this.post_attention_layernorm = this.registerModule(
      'post_attention_layernorm',
      new RMSNorm(config.hidden_size, config.rms_norm_eps),
    );
  }
  forward(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor, cache?: KVCache): Tensor {
    return scope(() => {
      // Inference over a cache (generation, serving) runs the same operators in one native call.
      if (cache && !isGradEnabled() && this.#runsOwnForwards()) return this.#step(x, cos, sin, mask, cache);
      const h = x.add(this.self_attn.forward(this.input_layernorm.forward(x), cos, sin, mask, cache));
      return h.add(this.mlp.forward(this.post_attention_layernorm.forward(h)));
    });
  }

  /** Whether every module runs its class's forward, which #step reproduces (an attached LoRA replaces a Linear's). */
  #runsOwnForwards(): boolean {
    const { self_attn: a, mlp } = this;
    const linears = [a.q_proj, a.k_proj, a.v_proj, a.o_proj, mlp.gate_proj, mlp.up_proj, mlp.down_proj];
    const norms = [this.input_layernorm, this.post_attention_layernorm];
    return (
      a.forward === LlamaAttention.prototype.forward &&
      mlp.forward === LlamaMLP.prototype.forward &&
      linears.every((l) => l.forward === Linear.prototype.forward) &&
      norms.every((n) => n.forward === RMSNorm.prototype.forward)
    );
  }

  #step(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor, cache: KVCache): Tensor {
    const { self_attn: a, mlp } = this;
    const weights = [
      this.input_layernorm.weight,
      a.q_proj.weight,
      a.k_proj.weight,
      a.v_proj.weight,
      a.o_proj.weight,
      this.post_attention_layernorm.weight,
      mlp.gate_proj.weight,
      mlp.up_proj.weight,
      mlp.down_proj.weight,
    ];
    const biases = a.q_proj.bias ? [a.q_proj.bias, a.k_proj.bias!, a.v_proj.bias!, a.o_proj.bias!] : [];
    const window = cache.window(a.layerIdx, x.size(1));
    return decoderLayer(x, weights, biases, { cos, sin }, mask, window, a.heads, this.input_layernorm.eps);
  }
}

export type DecoderInput = {
  inputIds?: Tensor; // [B, T] int64
  inputsEmbeds?: Tensor; // [B, T, D], instead of inputIds (LLaVA splices image features in)
  attentionMask?: Tensor; // [B, S] 1 = attend, 0 = padding; S = cached + T
  positionIds?: Tensor; // [B, T]; default cached..cached+T-1
  cache?: KVCache;
  outputHiddenStates?: boolean;
};

export class LlamaModel extends Module {
  readonly embed_tokens: Embedding;
  readonly layers: ModuleList<LlamaDecoderLayer>;
  readonly norm: RMSNorm;
  readonly rotary: RotaryEmbedding;
  constructor(readonly config: LlamaConfig) {
    super();
    this.embed_tokens = this.registerModule(
      'embed_tokens',
      new Embedding(config.vocab_size, config.hidden_size, config.pad_token_id ?? undefined),
    );
    this.layers = this.registerModule(
      'layers',
      new ModuleList(Array.from({ length: config.num_hidden_layers }, (_, i) => new LlamaDecoderLayer(config, i))),
    );
    this.norm = this.registerModule('norm', new RMSNorm(config.hidden_size, config.rms_norm_eps));
    this.rotary = new RotaryEmbedding(config);
  }

  /** -> last hidden state [B, T, D] after the final norm; hiddenStates = [embeddings, layer outputs..., normed last] as transformers. */
  forward(input: DecoderInput): { lastHiddenState: Tensor; hiddenStates?: Tensor[] } {
    const x0 = input.inputsEmbeds ?? this.embed_tokens.forward(input.inputIds!);
    const [B, T] = x0.shape as [number, number];
    const past = input.cache?.length ?? 0;
    const positionIds =
      input.positionIds ??
      arange(past, past + T, 1, { device: x0.device })
        .view(1, T)
        .expand(B, T);
    const { cos, sin } = this.rotary.forward(positionIds, x0.dtype);
    const mask = causalMask(B, T, past, input.attentionMask, x0.dtype, x0.device);
    // Unless asked for, a layer's output goes as soon as the next layer has run (autograd keeps
    // what backward needs itself); the caller's inputsEmbeds stay the caller's.
    const hiddenStates = input.outputHiddenStates ? [x0] : undefined;
    const drop = (t: Tensor) => t !== input.inputsEmbeds && t.dispose();
    let x = x0;
    for (const layer of this.layers) {
      const next = layer.forward(x, cos, sin, mask, input.cache);
      if (hiddenStates) hiddenStates.push(next);
      else drop(x);
      x = next;
    }
    input.cache?.advance(T);
    const normed = this.norm.forward(x);
    if (hiddenStates) hiddenStates[hiddenStates.length - 1] = normed; // as transformers: the normed last state
    drop(x);
    return { lastHiddenState: normed, hiddenStates };
  }
}

/**
 * Additive mask [B, 1, T, S] in `dtype`: 0 where query i (at absolute position past+i) may see
 * key j, the dtype's lowest value elsewhere — key after the query, or padding. Like transformers,
 * a fully masked row stays finite, so pad positions never turn into NaN that reaches real tokens.
 */
export function causalMask(
  B: number,
  T: number,
  past: number,
  attentionMask: Tensor | undefined,
  dtype: Tensor['dtype'],
  device = 'cpu',
): Tensor {
  const S = past + T;
  const lowest =
    dtype === 'float32'
      ? -3.4028234663852886e38
      : dtype === 'float64'
        ? -Number.MAX_VALUE
        : dtype === 'bfloat16'
          ? -3.3895313892515355e38
          : -65504;
  return scope(() => {
    let blocked = full([T, S], 1, { dtype: 'bool', device })
      .triu(past + 1)
      .view(1, 1, T, S); // key j > past + i
    if (attentionMask) blocked = blocked.logicalOr(attentionMask.eq(0).view(B, 1, 1, S));
    return zeros([B, 1, T, S], { dtype, device }).maskedFill(blocked.expand(B, 1, T, S), lowest);
  });
}

export type CausalLMOutput = { logits: Tensor; loss?: Tensor; hiddenStates?: Tensor[] };

export class LlamaForCausalLM extends Module {
  /** Loads config.json and the safetensors weights of a Hugging Face checkpoint folder. */
  static fromPretrained(dir: string, options?: LoadOptions): LlamaForCausalLM {
    return loadLlama(LlamaForCausalLM, dir, options);
  }

  /** Writes config.json and model.safetensors (sharded past maxShardSize) as transformers' save_pretrained. */
  savePretrained(dir: string, options?: SaveOptions): void {
    savePretrained(this, { architectures: ['LlamaForCausalLM'], ...this.config }, dir, options);
  }

  readonly model: LlamaModel;
  /** Absent when tie_word_embeddings: the output projection is then embed_tokens.weight itself. */
  readonly lm_head?: Linear;
  constructor(readonly config: LlamaConfig) {
    super();
    this.model = this.registerModule('model', new LlamaModel(config));
    if (!config.tie_word_embeddings)
      this.lm_head = this.registerModule('lm_head', new Linear(config.hidden_size, config.vocab_size, false));
  }

  /** Greedy or sampled continuation of inputIds [B, L] (left-padded for batches): resolves to [B, L + new]. */
  generate(input: { inputIds: Tensor; attentionMask?: Tensor } & GenerationOptions): Promise<Tensor> {
    return generate(this, { inputIds: input.inputIds, attentionMask: input.attentionMask }, input.inputIds, input);
  }

  /**
   * logits [B, T, V] in float32; with labels [B, T], the next-token loss averaged over every
   * non -100 target of the batch. logitsToKeep computes logits for the last positions only
   * (generation needs one; the full [B, T, 32000] projection of a long prompt is wasted work).
   */
  forward(input: DecoderInput & { labels?: Tensor; logitsToKeep?: number }): CausalLMOutput {
    const { lastHiddenState: h, hiddenStates } = this.model.forward(input);
    const T = h.size(1);
    const lastHiddenState =
      input.logitsToKeep && input.logitsToKeep < T ? h.narrow(1, T - input.logitsToKeep, input.logitsToKeep) : h;
    const logits = linear(lastHiddenState, (this.lm_head ?? this.model.embed_tokens).weight).to('float32');
    return { logits, loss: input.labels ? causalLMLoss(logits, input.labels) : undefined, hiddenStates };
  }
}

/**
 * Cross-entropy of logits[:, :-1] against labels[:, 1:], one mean over the batch's non -100 targets. The labels
 * move left instead of the logits (position t is scored against labels[t + 1], the last position against -100):
 * the same targets and mean, while the logits [B·T, V] are read as a view, with no shifted copy in forward
 * and no zero-padded copy of their gradient in backward.
 */
export function causalLMLoss(logits: Tensor, labels: Tensor): Tensor {
  const [B, T, V] = logits.shape as [number, number, number];
  return scope(() => {
    const none = full([B, 1], -100, { dtype: labels.dtype, device: labels.device });
    const shiftedLabels = cat([labels.narrow(1, 1, T - 1), none], 1).view(B * T);
    return crossEntropy(logits.reshape(B * T, V), shiftedLabels, { ignoreIndex: -100 });
  });
}

/**
 * causalLMLoss of the head's logits, from the last hidden state [B, T, D] and the head's weight [V, D], projecting
 * only the K positions that have a target: the same loss and gradients, without the logits of positions that
 * carry none (a LLaVA sample's image slots, the prompt): [K, V] instead of [B, T, V] through the head and softmax.
 */
export function causalLMHeadLoss(hidden: Tensor, headWeight: Tensor, labels: Tensor): Tensor {
  const [B, T, D] = hidden.shape as [number, number, number];
  return scope(() => {
    const pad = full([B, 1], -100, { dtype: labels.dtype, device: labels.device });
    const targets = cat([labels.narrow(1, 1, T - 1), pad], 1).view(B * T); // position t is scored on labels[t + 1]
    // [K] flat positions with a target, in order: sorting position + B·T·(no target) puts them first.
    const untargeted = targets.eq(-100);
    const K = B * T - untargeted.sum().item();
    const keys = arange(0, B * T, 1, { device: hidden.device }).add(untargeted.to('int64').mul(B * T));
    const kept = keys.sort().values.narrow(0, 0, K);
    const logits = linear(hidden.reshape(B * T, D).indexSelect(0, kept), headWeight).to('float32'); // [K, V]
    return crossEntropy(logits, targets.indexSelect(0, kept));
  });
}
