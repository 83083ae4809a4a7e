// Checks of single config.json values, shared by the llava-hf and the original layouts: each
// error names the file, the key, the value and why it is refused.
import type { ProjectorType } from './config.js';

export function check(cond: boolean, where: string, message: string): void {
  if (!cond) throw new Error(`${where}: ${message}`);
}

export function projectorType(name: string, where: string): ProjectorType {
  if (name === 'linear' || name === 'mlp2x_gelu' || name === 'identity') return name;
  throw new Error(
    `${where}: projector type '${name}' is not supported (expected 'linear', 'mlp2x_gelu' or 'identity')`,
  );
}

/** A single vision layer: a list (newer transformers concatenates several layers) is refused by name. */
export function visionLayer(value: unknown, key: string, where: string): number {
  check(
    Number.isInteger(value),
    where,
    `${key} ${JSON.stringify(value)} is not one layer index: concatenating several CLIP layers (a list) is not supported, and the original LLaVA code reads one (hidden_states[select_layer])`,
  );
  return value as number;
}

export function maxLength(value: unknown, where: string): number | null {
  if (value === undefined || value === null) return null;
  check(
    Number.isInteger(value) && (value as number) > 0,
    where,
    `tokenizer_model_max_length ${JSON.stringify(value)} is not a positive integer`,
  );
  return value as number;
}

export function aspectRatio(value: unknown, where: string): 'pad' | 'square' {
  if (value === undefined || value === null || value === 'square' || value === 'pad')
    return (value ?? 'square') as 'pad' | 'square';
  const why = String(value).startsWith('anyres')
    ? "LLaVA-1.6's any-resolution tiling (image_grid_pinpoints, image_newline) is not implemented"
    : 'it is not a known layout';
  throw new Error(
    `${where}: image_aspect_ratio ${JSON.stringify(value)} is not supported: ${why} (expected 'pad' or 'square')`,
  );
}
