// Sharded .bin checkpoints, as transformers' save_pretrained(safe_serialization=False) writes them and as the
// original LLaVA releases ship: `pytorch_model-00001-of-00002.bin` ... beside `pytorch_model.bin.index.json`,
// {"metadata": {"total_size": <bytes>}, "weight_map": {"<tensor>": "<shard file>", ...}} (the same index
// format as model.safetensors.index.json). A checkpoint small enough for one shard is a single pytorch_model.bin.

import { ShardedCheckpoint } from './shard-index.js';
import { TorchBinError, TorchBinFile } from './torch-bin.js';
import type { TorchBinSource } from './torch-bin.js';

export const WEIGHTS_NAME = 'pytorch_model.bin';
export const WEIGHTS_INDEX_NAME = 'pytorch_model.bin.index.json';

/** A sharded .bin checkpoint opened through its index; each shard's directory and data.pkl are read on first use of one of its tensors. */
export class ShardedTorchBin extends ShardedCheckpoint<TorchBinFile> implements TorchBinSource {
  static open(indexPath: string): ShardedTorchBin {
    return new ShardedTorchBin(
      indexPath,
      (path) => TorchBinFile.open(path),
      (file, message, tensor) => new TorchBinError(file, message, tensor),
    );
  }
}
