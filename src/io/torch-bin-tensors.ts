// .bin checkpoints as Tensors: the thin layer over the raw format (torch-bin.ts, torch-bin-sharded.ts), with
// the same reader shape as openSafetensors so that a model loader treats both formats alike. Each tensor's
// freshly read bytes become the Tensor's without a further copy.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../torch/index.js';
import { rawToTensor } from './tensors.js';
import { TorchBinFile } from './torch-bin.js';
import type { TorchBinSource, TorchTensorInfo } from './torch-bin.js';
import { ShardedTorchBin, WEIGHTS_INDEX_NAME, WEIGHTS_NAME } from './torch-bin-sharded.js';

/** A lazily opened .bin checkpoint (one file, or shards through their index) that hands out Tensors. */
export class TorchBinReader {
  constructor(readonly source: TorchBinSource) {}

  names(): string[] {
    return this.source.names();
  }

  has(name: string): boolean {
    return this.source.has(name);
  }

  /** dtype (safetensors name), shape and where the elements lie in their storage, without reading them. */
  info(name: string): TorchTensorInfo {
    return this.source.info(name);
  }

  /** Reads one tensor from disk, contiguous; the Tensor owns the bytes read. Tensors that shared a storage no longer do. */
  readTensor(name: string): Tensor {
    return rawToTensor(this.source.readRaw(name));
  }

  close(): void {
    this.source.close();
  }
}

/**
 * Opens `path` lazily: a .bin file (pytorch_model.bin, mm_projector.bin, non_lora_trainables.bin, a shard),
 * a pytorch_model.bin.index.json, or a directory holding either (pytorch_model.bin first when both are there,
 * as transformers' from_pretrained looks).
 */
export function openTorchBin(path: string): TorchBinReader {
  if (statSync(path).isDirectory()) {
    const single = join(path, WEIGHTS_NAME);
    const index = join(path, WEIGHTS_INDEX_NAME);
    if (existsSync(single)) return new TorchBinReader(TorchBinFile.open(single));
    if (existsSync(index)) return new TorchBinReader(ShardedTorchBin.open(index));
    throw new Error(`${path}: no ${WEIGHTS_NAME} or ${WEIGHTS_INDEX_NAME} in this directory`);
  }
  return new TorchBinReader(path.endsWith('.json') ? ShardedTorchBin.open(path) : TorchBinFile.open(path));
}
