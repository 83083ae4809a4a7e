// Writing a checkpoint in the Hugging Face layout transformers loads: config.json (with the
// weights' torch_dtype) and the weights as safetensors, sharded past maxShardSize.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeAll, writeFileAtomic } from '../io/atomic.js';
import { saveShardedSafetensors } from '../io/tensors.js';
import type { Module } from '../nn/index.js';

export type SaveOptions = { maxShardSize?: number | string };

export function savePretrained(model: Module, config: Record<string, unknown>, dir: string, options: SaveOptions = {}) {
  mkdirSync(dir, { recursive: true });
  saveShardedSafetensors(dir, Object.fromEntries(model.stateDict()), { maxShardSize: options.maxShardSize });
  const json = JSON.stringify({ ...config, torch_dtype: model.parameters()[0]?.dtype ?? 'float32' }, null, 2) + '\n';
  writeFileAtomic(join(dir, 'config.json'), (fd) => writeAll(fd, Buffer.from(json)));
}
