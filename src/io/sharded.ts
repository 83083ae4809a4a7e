// Sharded safetensors checkpoints, as Hugging Face transformers' save_pretrained writes them: shard files
// `model-00001-of-00003.safetensors` ... beside `model.safetensors.index.json`, which holds
// {"metadata": {"total_size": <bytes of all tensors>}, "weight_map": {"<tensor>": "<shard file>", ...}}.
// A checkpoint small enough for one shard is a single `model.safetensors` and no index.

import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeAll, writeFileAtomic } from './atomic.js';
import {
  checkTensorToWrite,
  DTYPE_SIZE,
  numel,
  SafetensorsError,
  SafetensorsFile,
  writeSafetensors,
} from './safetensors.js';
import type { RawTensorSource, TensorToWrite } from './safetensors.js';
import { ShardedCheckpoint } from './shard-index.js';

export const SAFE_WEIGHTS_NAME = 'model.safetensors';
export const SAFE_WEIGHTS_INDEX_NAME = 'model.safetensors.index.json';

/** A sharded safetensors checkpoint opened through its index; each shard's header is read on first use of one of its tensors. */
export class ShardedSafetensors extends ShardedCheckpoint<SafetensorsFile> implements RawTensorSource {
  static open(indexPath: string): ShardedSafetensors {
    return new ShardedSafetensors(
      indexPath,
      (path) => SafetensorsFile.open(path),
      (file, message, tensor) => new SafetensorsError(file, message, tensor),
    );
  }
}

export interface ShardedWriteOptions {
  /** Largest shard, as bytes or transformers' strings ('5GB' = 5e9, '10GiB' = 10 * 2^30, '500MB', '100KB'). */
  maxShardSize?: number | string;
  /** Each shard's __metadata__; transformers refuses to load shards without {"format": "pt"}. */
  metadata?: Readonly<Record<string, string>>;
}

/**
 * Writes `tensors` into `dir` as save_pretrained(safe_serialization=True) does: shards filled in the given
 * order, a new one started when the next tensor would push the current one past maxShardSize (a tensor larger
 * than that gets a shard of its own), then the index. Every file is written atomically, the index last; shards
 * and index left by an earlier save under other names are then removed. Returns the file names written.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: Readonly<Record<string, TensorToWrite>>,
  options: ShardedWriteOptions = {},
): string[] {
  const maxShardSize = parseShardSize(options.maxShardSize ?? '5GB');
  const metadata = options.metadata ?? { format: 'pt' };
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) checkTensorToWrite(dir, name, t);
  mkdirSync(dir, { recursive: true });

  const shards: string[][] = [[]];
  let shardBytes = 0;
  let totalSize = 0;
  for (const [name, t] of entries) {
    const nbytes = numel(t.shape) * DTYPE_SIZE[t.dtype];
    if (shardBytes + nbytes > maxShardSize && shards[shards.length - 1].length > 0) {
      shards.push([]);
      shardBytes = 0;
    }
    shards[shards.length - 1].push(name);
    shardBytes += nbytes;
    totalSize += nbytes;
  }

  const count = shards.length;
  const files = count === 1 ? [SAFE_WEIGHTS_NAME] : shards.map((_, i) => shardFileName(i + 1, count));
  const weightMap: [string, string][] = [];
  shards.forEach((names, i) => {
    writeSafetensors(join(dir, files[i]), Object.fromEntries(names.map((n) => [n, tensors[n]])), metadata);
    for (const n of names) weightMap.push([n, files[i]]);
  });
  if (count > 1) {
    const index = Buffer.from(formatIndex(totalSize, weightMap), 'utf8');
    writeFileAtomic(join(dir, SAFE_WEIGHTS_INDEX_NAME), (fd) => writeAll(fd, index));
    files.push(SAFE_WEIGHTS_INDEX_NAME);
  }
  for (const stale of readdirSync(dir)) {
    const ours =
      /^model-\d{5}-of-\d{5}\.safetensors$/.test(stale) ||
      stale === SAFE_WEIGHTS_NAME ||
      stale === SAFE_WEIGHTS_INDEX_NAME;
    if (ours && !files.includes(stale)) rmSync(join(dir, stale));
  }
  return files;
}

/** `model-00002-of-00003.safetensors`. */
export function shardFileName(index: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `model-${pad(index)}-of-${pad(count)}.safetensors`;
}

/** transformers' convert_file_size_to_int: an integer of bytes, or digits followed by GiB/MiB/KiB or GB/MB/KB (lower-case b: bits). */
export function parseShardSize(size: number | string): number {
  if (typeof size === 'number') {
    if (Number.isSafeInteger(size) && size > 0) return size;
    throw new RangeError(`maxShardSize must be a positive integer number of bytes, got ${size}`);
  }
  const m = /^(\d+)(GiB|MiB|KiB|GB|MB|KB)$/i.exec(size);
  if (m === null)
    throw new RangeError(
      `maxShardSize ${JSON.stringify(size)} is not an integer followed by a unit, e.g. '5GB' or '10GiB'`,
    );
  const scale: Record<string, number> = { GIB: 2 ** 30, MIB: 2 ** 20, KIB: 2 ** 10, GB: 1e9, MB: 1e6, KB: 1e3 };
  const bytes = Number(m[1]) * scale[m[2].toUpperCase()];
  const bits = !m[2].toUpperCase().endsWith('IB') && size.endsWith('b');
  return bits ? Math.floor(bytes / 8) : bytes;
}

/** Python's json.dumps(index, indent=2, sort_keys=True) + "\n", as transformers writes the index. */
function formatIndex(totalSize: number, weightMap: [string, string][]): string {
  // Python sorts str by code point and escapes all non-ASCII (ensure_ascii) as lower-case \uXXXX per UTF-16 unit.
  const py = (s: string) =>
    JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const byCodePoint = ([a]: [string, string], [b]: [string, string]) => {
    const [x, y] = [[...a], [...b]];
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] !== y[i]) return x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    }
    return x.length - y.length;
  };
  const entries = [...weightMap].sort(byCodePoint).map(([name, file]) => `    ${py(name)}: ${py(file)}`);
  return `{\n  "metadata": {\n    "total_size": ${totalSize}\n  },\n  "weight_map": {\n${entries.join(',\n')}\n  }\n}\n`;
}
