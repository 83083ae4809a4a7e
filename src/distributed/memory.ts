// Per-rank memory of model states under DDP, ZeRO-1 and ZeRO-2 (the ZeRO paper's accounting, §3:
// Ψ trainable parameters, weights and gradients in the training dtype, K bytes of optimizer state
// per parameter: AdamW's two fp32 moments, plus the fp32 master weights under bf16). Parameters
// are counted on a model built on the 'meta' device, so a 13B model costs no memory to count.
// Activations, buffers and allocator slack are not included.
import { withDevice } from '../torch/index.js';
import type { Module } from '../nn/index.js';
import { LlavaForConditionalGeneration, llavaConfig } from '../models/index.js';

export type ShardingOption = 'ddp' | 'zero1' | 'zero2';
export type StateBytes = { weights: number; gradients: number; optimizer: number; total: number };
export type Precision = 'bf16' | 'fp32';

/** Bytes per parameter: weight and gradient in the training dtype; AdamW moments (+ fp32 masters under bf16). */
const BYTES: Record<Precision, { weight: number; gradient: number; optimizer: number }> = {
  bf16: { weight: 2, gradient: 2, optimizer: 4 + 4 + 4 },
  fp32: { weight: 4, gradient: 4, optimizer: 4 + 4 },
};

export type ParameterCount = { trainable: number; frozen: number };

/** Trainable and frozen parameter elements of `model` (any device, meta included). */
export function countParameters(model: Module, trainable: (name: string) => boolean): ParameterCount {
  const count = { trainable: 0, frozen: 0 };
  for (const [name, p] of model.namedParameters()) count[trainable(name) ? 'trainable' : 'frozen'] += p.numel;
  return count;
}

/** Each option's model-state bytes on one of `worldSize` ranks. */
export function perRankBytes(
  count: ParameterCount,
  worldSize: number,
  precision: Precision,
): Record<ShardingOption, StateBytes> {
  const b = BYTES[precision];
  const weights = (count.trainable + count.frozen) * b.weight;
  const gradients = count.trainable * b.gradient;
  const optimizer = count.trainable * b.optimizer;
  const of = (g: number, o: number): StateBytes => ({ weights, gradients: g, optimizer: o, total: weights + g + o });
  return {
    ddp: of(gradients, optimizer),
    zero1: of(gradients, optimizer / worldSize),
    zero2: of(gradients / worldSize, optimizer / worldSize),
  };
}

/** LLaVA-1.5's language models (Vicuna v1.5, LLaMA-2 shapes) with CLIP ViT-L/14-336 and the mlp2x_gelu projector. */
const LLAVA_V15_TEXT = {
  '7b': { hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32 },
  '13b': { hidden_size: 5120, intermediate_size: 13824, num_hidden_layers: 40, num_attention_heads: 40 },
} as const;
const CLIP_L_336 = {
  hidden_size: 1024,
  intermediate_size: 4096,
  num_hidden_layers: 24,
  num_attention_heads: 16,
  image_size: 336,
  patch_size: 14,
  projection_dim: 768,
};

/** The v1.5 fine-tune recipe's parameters (language model and projector trained, vision tower frozen), on meta. */
export function llavaV15Parameters(size: '7b' | '13b'): ParameterCount {
  const config = llavaConfig({
    model_type: 'llava',
    text_config: { ...LLAVA_V15_TEXT[size], vocab_size: 32000 },
    vision_config: CLIP_L_336,
  });
  const model = withDevice('meta', () => new LlavaForConditionalGeneration(config));
  return countParameters(model, (name) => !name.startsWith('vision_tower.'));
}

const GiB = 1024 ** 3;

/** A printed table: each option's per-rank bytes in GiB. */
export function formatEstimate(title: string, count: ParameterCount, worldSize: number, precision: Precision): string {
  const rows = perRankBytes(count, worldSize, precision);
  const gib = (n: number) => (n / GiB).toFixed(2).padStart(8);
  const lines = [
    `${title}: ${count.trainable} trainable + ${count.frozen} frozen parameters, ${precision}, per rank of ${worldSize} (GiB, model states only)`,
    `  option     weights gradients optimizer    total`,
    ...(Object.keys(rows) as ShardingOption[]).map((o) => {
      const r = rows[o];
      return `  ${o.padEnd(6)} ${gib(r.weights)}  ${gib(r.gradients)}  ${gib(r.optimizer)} ${gib(r.total)}`;
    }),
  ];
  return lines.join('\n');
}
