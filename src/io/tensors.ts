// safetensors checkpoints as Tensors: the thin layer over the raw format (safetensors.ts, sharded.ts).
// Reading wraps each tensor's freshly read bytes without a copy; writing copies one tensor out of libtorch
// at a time, just before its bytes go to disk. Either way one tensor at most is held twice.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tensor, type DType, type Tensor, type TypedArray } from '../torch/index.js';
import { DTYPE_SIZE, SafetensorsFile, writeSafetensors } from './safetensors.js';
import type { RawTensor, RawTensorSource, SafetensorsDType, TensorToWrite } from './safetensors.js';
import { SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, ShardedSafetensors, writeShardedSafetensors } from './sharded.js';
import type { ShardedWriteOptions } from './sharded.js';

const TORCH_DTYPE: Readonly<Record<SafetensorsDType, DType>> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const SAFETENSORS_DTYPE = Object.fromEntries(Object.entries(TORCH_DTYPE).map(([st, t]) => [t, st])) as Record<
  DType,
  SafetensorsDType
>;

// The file stores little-endian elements; typed arrays use the host's order.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type TensorSource = {
  names(): string[];
  has(name: string): boolean;
  info(name: string): unknown;
  readRaw(name: string): RawTensor;
  close(): void;
};

/**
 * A lazily opened checkpoint (one file, or shards through their index; safetensors or torch.save
 * .bin) that hands out Tensors, one read at a time.
 */
export class CheckpointReader<S extends TensorSource = RawTensorSource> {
  constructor(readonly source: S) {}

  names(): string[] {
    return this.source.names();
  }

  has(name: string): boolean {
    return this.source.has(name);
  }

  /** dtype (safetensors name), shape and where the elements lie, without reading them. */
  info(name: string): ReturnType<S['info']> {
    return this.source.info(name) as ReturnType<S['info']>;
  }

  /** Reads one tensor from disk, contiguous; the Tensor owns the bytes read (no further copy). */
  readTensor(name: string): Tensor {
    return rawToTensor(this.source.readRaw(name));
  }

  close(): void {
    this.source.close();
  }
}

/**
 * Opens `path` lazily: a .safetensors file, a model.safetensors.index.json, or a directory holding either
 * (model.safetensors first when both are there, as transformers' from_pretrained looks).
 */
export function openSafetensors(path: string): CheckpointReader {
  if (statSync(path).isDirectory()) {
    const single = join(path, SAFE_WEIGHTS_NAME);
    const index = join(path, SAFE_WEIGHTS_INDEX_NAME);
    if (existsSync(single)) return new CheckpointReader(SafetensorsFile.open(single));
    if (existsSync(index)) return new CheckpointReader(ShardedSafetensors.open(index));
    throw new Error(`${path}: no ${SAFE_WEIGHTS_NAME} or ${SAFE_WEIGHTS_INDEX_NAME} in this directory`);
  }
  return new CheckpointReader(path.endsWith('.json') ? ShardedSafetensors.open(path) : SafetensorsFile.open(path));
}

/** Writes `tensors` to one file atomically (as safetensors.torch.save_file). */
export function saveSafetensors(
  path: string,
  tensors: Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): void {
  writeSafetensors(path, toWritable(tensors), metadata);
}

/** Writes `tensors` into `dir` as transformers' save_pretrained does (shards + index when over maxShardSize). */
export function saveShardedSafetensors(
  dir: string,
  tensors: Readonly<Record<string, Tensor>>,
  options?: ShardedWriteOptions,
): string[] {
  return writeShardedSafetensors(dir, toWritable(tensors), options);
}

/** A Tensor sharing the raw bytes (which the caller must not reuse); copied only if misaligned for the dtype. */
export function rawToTensor(raw: RawTensor): Tensor {
  if (!LITTLE_ENDIAN)
    throw new Error('safetensors data is little-endian; reading it as tensors on a big-endian host is not supported');
  const aligned = raw.data.byteOffset % DTYPE_SIZE[raw.dtype] === 0 ? raw.data : raw.data.slice();
  const { buffer, byteOffset, byteLength } = aligned;
  const view = (Array: { new (b: ArrayBufferLike, o: number, n: number): TypedArray; BYTES_PER_ELEMENT: number }) =>
    new Array(buffer, byteOffset, byteLength / Array.BYTES_PER_ELEMENT);
  const arrays: Record<SafetensorsDType, () => TypedArray> = {
    F64: () => view(Float64Array),
    F32: () => view(Float32Array),
    F16: () => view(Uint16Array),
    BF16: () => view(Uint16Array),
    I64: () => view(BigInt64Array),
    I32: () => view(Int32Array),
    I16: () => view(Int16Array),
    I8: () => view(Int8Array),
    U8: () => view(Uint8Array),
    BOOL: () => view(Uint8Array),
  };
  return tensor(arrays[raw.dtype](), raw.shape, TORCH_DTYPE[raw.dtype]);
}

function toWritable(tensors: Readonly<Record<string, Tensor>>): Record<string, TensorToWrite> {
  if (!LITTLE_ENDIAN)
    throw new Error('safetensors data is little-endian; writing tensors on a big-endian host is not supported');
  return Object.fromEntries(
    Object.entries(tensors).map(([name, t]) => [
      name,
      {
        dtype: SAFETENSORS_DTYPE[t.dtype],
        shape: [...t.shape],
        data: () => {
          const a = t.toTypedArray();
          return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
        },
      },
    ]),
  );
}
