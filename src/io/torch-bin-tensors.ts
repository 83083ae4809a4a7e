// .bin checkpoints as Tensors: the raw format (torch-bin.ts, torch-bin-sharded.ts) behind the same
// CheckpointReader as openSafetensors, so that a model loader treats both formats alike.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointReader } from './tensors.js';
import { TorchBinFile } from './torch-bin.js';
import type { TorchBinSource } from './torch-bin.js';
import { ShardedTorchBin, WEIGHTS_INDEX_NAME, WEIGHTS_NAME } from './torch-bin-sharded.js';

/**
 * Opens `path` lazily: a .bin file (pytorch_model.bin, mm_projector.bin, non_lora_trainables.bin, a shard),
 * a pytorch_model.bin.index.json, or a directory holding either (pytorch_model.bin first when both are there,
 * as transformers' from_pretrained looks).
 */
export function openTorchBin(path: string): CheckpointReader<TorchBinSource> {
  if (statSync(path).isDirectory()) {
    const single = join(path, WEIGHTS_NAME);
    const index = join(path, WEIGHTS_INDEX_NAME);
    if (existsSync(single)) return new CheckpointReader(TorchBinFile.open(single));
    if (existsSync(index)) return new CheckpointReader(ShardedTorchBin.open(index));
    throw new Error(`${path}: no ${WEIGHTS_NAME} or ${WEIGHTS_INDEX_NAME} in this directory`);
  }
  return new CheckpointReader(path.endsWith('.json') ? ShardedTorchBin.open(path) : TorchBinFile.open(path));
}
