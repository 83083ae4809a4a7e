// Sharded .bin checkpoints, as transformers' save_pretrained(safe_serialization=False) writes them and as the
// original LLaVA releases ship: `pytorch_model-00001-of-00002.bin` ... beside `pytorch_model.bin.index.json`,
// {"metadata": {"total_size": <bytes>}, "weight_map": {"<tensor>": "<shard file>", ...}} (the same index
// format as model.safetensors.index.json). A checkpoint small enough for one shard is a single pytorch_model.bin.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import type { RawTensor } from './safetensors.js';
import { TorchBinError, TorchBinFile } from './torch-bin.js';
import type { TorchBinSource, TorchTensorInfo } from './torch-bin.js';

export const WEIGHTS_NAME = 'pytorch_model.bin';
export const WEIGHTS_INDEX_NAME = 'pytorch_model.bin.index.json';

/** A sharded checkpoint opened through its index; each shard's directory and data.pkl are read on first use of one of its tensors. */
export class ShardedTorchBin implements TorchBinSource {
  private readonly shards = new Map<string, TorchBinFile>();

  private constructor(
    readonly indexPath: string,
    /** The index's "metadata" object, e.g. {total_size: 1234}. */
    readonly metadata: Readonly<Record<string, unknown>>,
    /** tensor name -> shard file name, relative to the index's directory. */
    private readonly weightMap: Map<string, string>,
  ) {}

  /** Reads and checks the index, and that every shard it names exists; opens no shard yet. */
  static open(indexPath: string): ShardedTorchBin {
    const fail = (message: string, tensor?: string): never => { throw new TorchBinError(indexPath, message, tensor); };
    let index: unknown;
    try {
      index = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== undefined) throw err;
      return fail(`not valid JSON (${(err as Error).message})`);
    }
    if (!isPlainObject(index)) return fail('index must be a JSON object with "weight_map"');
    const { metadata = {}, weight_map: weightMap } = index;
    if (!isPlainObject(metadata)) fail('"metadata" must be an object');
    if (!isPlainObject(weightMap)) return fail('"weight_map" must be an object of tensor name -> shard file');

    const map = new Map<string, string>();
    for (const [name, file] of Object.entries(weightMap)) {
      if (typeof file !== 'string' || file === '' || isAbsolute(file) || normalize(file).split(sep)[0] === '..') {
        fail(`weight_map entry must name a shard file inside the index's directory, got ${JSON.stringify(file)}`, name);
      }
      map.set(name, file as string);
    }
    const dir = dirname(indexPath);
    for (const file of new Set(map.values())) {
      if (!existsSync(join(dir, file))) {
        const users = [...map].filter(([, f]) => f === file).map(([n]) => n);
        fail(`weight_map names shard ${JSON.stringify(file)} (for ${JSON.stringify(users[0])}${users.length > 1 ? ` and ${users.length - 1} more` : ''}), but ${join(dir, file)} does not exist`);
      }
    }
    return new ShardedTorchBin(indexPath, metadata as Record<string, unknown>, map);
  }

  /** Tensor names in the index's order (sorted, as transformers writes it). */
  names(): string[] {
    return [...this.weightMap.keys()];
  }

  has(name: string): boolean {
    return this.weightMap.has(name);
  }

  /** The shard files, in the order they are first named. */
  shardFiles(): string[] {
    return [...new Set(this.weightMap.values())];
  }

  info(name: string): TorchTensorInfo {
    return this.shardOf(name).info(name);
  }

  readRaw(name: string): RawTensor {
    return this.shardOf(name).readRaw(name);
  }

  close(): void {
    for (const shard of this.shards.values()) shard.close();
    this.shards.clear();
  }

  private shardOf(name: string): TorchBinFile {
    const file = this.weightMap.get(name);
    if (file === undefined) throw new TorchBinError(this.indexPath, `no such tensor in weight_map (it has ${this.weightMap.size})`, name);
    let shard = this.shards.get(file);
    if (shard === undefined) {
      shard = TorchBinFile.open(join(dirname(this.indexPath), file));
      this.shards.set(file, shard);
    }
    if (!shard.has(name)) throw new TorchBinError(this.indexPath, `weight_map puts it in ${JSON.stringify(file)}, but that shard has no such tensor`, name);
    return shard;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
