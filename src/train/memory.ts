// Parameter counts by part and the memory a run needs, estimated before step 1 so a run that cannot fit stops
// with a clear message instead of failing (or swapping) hours later. Weights in their dtype; gradients and AdamW's
// two moments in fp32 for the trainable parameters (plus an fp32 master copy under bf16); activations by the
// per-layer count of Korthikanti et al. (2022) for a LLaMA block without flash attention, at the longest sequence
// (model_max_length plus the image tokens), and only one layer's worth plus the layer inputs when activations
// are recomputed (gradient checkpointing).
import type { LlavaConfig } from '../models/index.js';
import type { NamedParameter } from './param-groups.js';

export type PartCounts = { total: number; trainable: number };
export type ParameterCounts = Record<'vision_tower' | 'projector' | 'language_model' | 'lora', PartCounts>;

const partOf = (name: string): keyof ParameterCounts =>
  name.includes('.lora_')
    ? 'lora'
    : name.startsWith('vision_tower.')
      ? 'vision_tower'
      : name.startsWith('multi_modal_projector.')
        ? 'projector'
        : 'language_model';

export function countParameters(all: NamedParameter[], trainable: NamedParameter[]): ParameterCounts {
  const counts: ParameterCounts = {
    vision_tower: { total: 0, trainable: 0 },
    projector: { total: 0, trainable: 0 },
    language_model: { total: 0, trainable: 0 },
    lora: { total: 0, trainable: 0 },
  };
  const seen = new Set(all.map(([n]) => n));
  for (const [name, p] of [...all, ...trainable.filter(([n]) => !seen.has(n))]) counts[partOf(name)].total += p.numel;
  for (const [name, p] of trainable) counts[partOf(name)].trainable += p.numel;
  return counts;
}

export type MemoryEstimate = {
  parameters: number;
  gradients: number;
  optimizer: number;
  activations: number;
  total: number;
};

export function estimateMemory(
  config: LlavaConfig,
  counts: ParameterCounts,
  run: {
    batchSize: number;
    sequenceLength: number;
    /** Positions that can carry a label (the text tokens): the only ones the LM head scores in training. */
    textLength: number;
    bf16: boolean;
    gradientCheckpointing: boolean;
  },
): MemoryEstimate {
  const all = Object.values(counts).reduce((n, c) => n + c.total, 0);
  const trainable = Object.values(counts).reduce((n, c) => n + c.trainable, 0);
  const width = run.bf16 ? 2 : 4;
  const parameters = all * width + (run.bf16 ? trainable * 4 : 0); // fp32 master weights beside bf16 ones
  const gradients = trainable * 4;
  const optimizer = trainable * 8;
  const t = config.text_config;
  const [b, s, h, a] = [run.batchSize, run.sequenceLength, t.hidden_size, t.num_attention_heads];
  // Bytes per layer, 16-bit: s·b·h·(34 + 5·a·s/h); twice that in fp32. The MLP's wider intermediate (LLaMA's
  // 2.7·h gated vs 4·h) is within the formula's accuracy.
  const perLayer = s * b * h * (34 + (5 * a * s) / h) * (width / 2);
  const layerInputs = s * b * h * width * t.num_hidden_layers;
  // Two fp32 [K, V] tensors over the labelled positions only (causalLMHeadLoss): the log-softmax that backward keeps
  // and its gradient (the Trainer frees the logits themselves before backward).
  const logits = Math.min(s, run.textLength) * b * t.vocab_size * 4 * 2;
  const activations = (run.gradientCheckpointing ? perLayer + layerInputs : perLayer * t.num_hidden_layers) + logits;
  return { parameters, gradients, optimizer, activations, total: parameters + gradients + optimizer + activations };
}

export const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
