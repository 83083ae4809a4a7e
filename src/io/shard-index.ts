// The shard index that transformers' save_pretrained writes beside sharded weights, in the same
// format for safetensors and .bin shards: {"metadata": {"total_size": N}, "weight_map":
// {"<tensor>": "<shard file>"}}. A sharded checkpoint opens each shard on first use of one of
// its tensors; sharded.ts and torch-bin-sharded.ts give it their shard file type.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import type { RawTensor } from './safetensors.js';

type Fail = (message: string, tensor?: string) => never;
export type ShardFile = {
  has(name: string): boolean;
  info(name: string): unknown;
  readRaw(name: string): RawTensor;
  close(): void;
};

/** Reads and checks an index, and that every shard it names exists inside its directory. */
function readShardIndex(
  indexPath: string,
  fail: Fail,
): { metadata: Record<string, unknown>; weightMap: Map<string, string> } {
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
      fail(
        `weight_map names shard ${JSON.stringify(file)} (for ${JSON.stringify(users[0])}${users.length > 1 ? ` and ${users.length - 1} more` : ''}), but ${join(dir, file)} does not exist`,
      );
    }
  }
  return { metadata: metadata as Record<string, unknown>, weightMap: map };
}

export abstract class ShardedCheckpoint<F extends ShardFile> {
  private readonly shards = new Map<string, F>();
  /** The index's "metadata" object, e.g. {total_size: 1234}. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** tensor name -> shard file name, relative to the index's directory. */
  private readonly weightMap: Map<string, string>;

  /** Reads and checks the index; opens no shard yet. */
  protected constructor(
    readonly indexPath: string,
    private readonly openShard: (path: string) => F,
    private readonly error: (file: string, message: string, tensor?: string) => Error,
  ) {
    ({ metadata: this.metadata, weightMap: this.weightMap } = readShardIndex(indexPath, (message, tensor) => {
      throw error(indexPath, message, tensor);
    }));
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

  info(name: string): ReturnType<F['info']> {
    return this.shardOf(name).info(name) as ReturnType<F['info']>;
  }

  readRaw(name: string): RawTensor {
    return this.shardOf(name).readRaw(name);
  }

  close(): void {
    for (const shard of this.shards.values()) shard.close();
    this.shards.clear();
  }

  private shardOf(name: string): F {
    const file = this.weightMap.get(name);
    if (file === undefined)
      throw this.error(this.indexPath, `no such tensor in weight_map (it has ${this.weightMap.size})`, name);
    let shard = this.shards.get(file);
    if (shard === undefined) {
      shard = this.openShard(join(dirname(this.indexPath), file));
      this.shards.set(file, shard);
    }
    if (!shard.has(name))
      throw this.error(
        this.indexPath,
        `weight_map puts it in ${JSON.stringify(file)}, but that shard has no such tensor`,
        name,
      );
    return shard;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
