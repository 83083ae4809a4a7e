// Which weight files a checkpoint has, and opening them so that each is closed again: safetensors
// when present (as transformers prefers), else torch.save .bin files; single files for stage-1
// projectors (mm_projector.bin, non_lora_trainables.bin).
import { readdirSync, statSync } from 'node:fs';
import { openSafetensors } from '../io/tensors.js';
import { openTorchBin } from '../io/torch-bin-tensors.js';
import type { Tensor } from '../torch/index.js';

export type WeightSource = { names(): string[]; readTensor(name: string): Tensor; close(): void };

/** A folder's weights (single or sharded), or one .safetensors / .bin file. */
export function openWeights(path: string): WeightSource {
  if (!statSync(path).isDirectory()) {
    if (path.endsWith('.safetensors')) return openSafetensors(path);
    if (path.endsWith('.bin')) return openTorchBin(path);
    throw new Error(`${path}: expected a .safetensors or .bin weights file`);
  }
  const files = readdirSync(path);
  if (files.some((f) => f === 'model.safetensors' || f === 'model.safetensors.index.json'))
    return openSafetensors(path);
  if (files.some((f) => f === 'pytorch_model.bin' || f === 'pytorch_model.bin.index.json')) return openTorchBin(path);
  throw new Error(
    `${path}: no weights (model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json)`,
  );
}

/** Runs fn with an `open` whose every source is closed when fn returns or throws. */
export function withWeights<T>(fn: (open: (path: string) => WeightSource) => T): T {
  const opened: WeightSource[] = [];
  try {
    return fn((path) => {
      const source = openWeights(path);
      opened.push(source);
      return source;
    });
  } finally {
    for (const source of opened) source.close();
  }
}

/**
 * Keys checkpoints carry that are no parameters here: CLIP's position_ids buffer and LLaMA's
 * rotary inv_freq (recomputed from the config).
 */
export const isDerivedBuffer = (key: string): boolean =>
  key.endsWith('embeddings.position_ids') || key.includes('rotary_emb.inv_freq');
