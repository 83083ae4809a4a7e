// The safetensors format (huggingface/safetensors), raw layer: no tensors, only bytes, so that it loads
// without the libtorch addon.
//
// File layout: 8 bytes N (u64, little-endian) | N bytes of UTF-8 JSON header | data area.
// Header: {"__metadata__": {string: string}?, "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...}
// with [b, e) relative to the start of the data area, tensors row-major and little-endian. The reference
// rejects a file unless, sorted by offset, the tensors tile the data area exactly: the first starts at 0,
// each starts where the previous ends, the last ends at the end of the file, and each spans
// numel(shape) * size(dtype) bytes. We check the same, and name the file and tensor in every error.
//
// Reading is lazy: open() reads only the header; readRaw(name) reads that tensor's bytes with positioned reads,
// so a 14 GB checkpoint is never held in memory (let alone twice).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeAll, writeFileAtomic } from './atomic.js';

/** The safetensors dtypes this project reads and writes (the reference also has U16/U32/U64/F8_*). */
export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

// The reference's Dtype enum order (ascending alignment). Its writer lays tensors out by descending rank,
// then by name, so every tensor starts aligned to its element size; we do the same to write identical bytes.
const WRITE_RANK: readonly SafetensorsDType[] = ['BOOL', 'U8', 'I8', 'I16', 'F16', 'BF16', 'I32', 'F32', 'F64', 'I64'];
const OTHER_REFERENCE_DTYPES = ['U16', 'U32', 'U64', 'F8_E5M2', 'F8_E4M3'];

/** The reference refuses headers above 100 MB; the largest real ones are a few MB. */
export const MAX_HEADER_SIZE = 100_000_000;

export interface TensorInfo {
  dtype: SafetensorsDType;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data area. */
  dataOffsets: [number, number];
}

export interface RawTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** Row-major, little-endian element bytes; byteOffset is 0 for tensors read from a file. */
  data: Uint8Array;
}

/** What a lazily opened checkpoint offers, whether one file or several shards. */
export interface RawTensorSource {
  /** Tensor names, in file order. */
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  readRaw(name: string): RawTensor;
  close(): void;
}

/** A malformed or inconsistent safetensors file; `file` and (when one is to blame) `tensor` say where. */
export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${tensor === undefined ? '' : `tensor ${JSON.stringify(tensor)}: `}${message}`);
    this.name = 'SafetensorsError';
  }
}

export class SafetensorsFile implements RawTensorSource {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
    /** Absolute file position of the data area: 8 + N. */
    private readonly dataStart: number,
    private readonly tensors: Map<string, TensorInfo>,
    /** The header's `__metadata__` (empty when absent). */
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Reads and validates the header only; tensor bytes are read on demand by readRaw(). */
  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const fail = (message: string): never => {
        throw new SafetensorsError(path, message);
      };
      if (size < 8) fail(`file is ${size} bytes, too short to hold the 8-byte header length (truncated?)`);
      const n = new DataView(readExactly(fd, path, 0, 8).buffer).getBigUint64(0, true);
      if (n > BigInt(size - 8))
        fail(`header length ${n} runs past the end of the file (${size} bytes: ${size - 8} after the length field)`);
      if (n > BigInt(MAX_HEADER_SIZE)) fail(`header length ${n} exceeds the ${MAX_HEADER_SIZE}-byte limit`);
      const headerLength = Number(n);
      const header = parseHeader(readExactly(fd, path, 8, headerLength), path);
      const dataStart = 8 + headerLength;
      checkLayout(header.tensors, size - dataStart, path);
      return new SafetensorsFile(path, fd, dataStart, header.tensors, header.metadata);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (info === undefined)
      throw new SafetensorsError(this.path, `no such tensor (the file has ${this.tensors.size})`, name);
    return { dtype: info.dtype, shape: [...info.shape], dataOffsets: [...info.dataOffsets] };
  }

  /** Reads exactly this tensor's bytes from disk, into a fresh buffer. */
  readRaw(name: string): RawTensor {
    const {
      dtype,
      shape,
      dataOffsets: [begin, end],
    } = this.info(name);
    if (this.fd === undefined) throw new SafetensorsError(this.path, 'read after close()', name);
    return { dtype, shape, data: readExactly(this.fd, this.path, this.dataStart + begin, end - begin, name) };
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A tensor to write. `data` may be a function so that its bytes are produced only when written, one tensor at a time. */
export interface TensorToWrite {
  dtype: SafetensorsDType;
  shape: number[];
  data: Uint8Array | (() => Uint8Array);
}

/**
 * Writes `tensors` to `path` atomically, byte-identical to the reference `safetensors` library's save_file:
 * tensors ordered by descending dtype alignment then name, compact JSON header with `__metadata__` first,
 * padded with spaces to a multiple of 8 bytes so that every tensor's data is 8-byte aligned in the file.
 * (Metadata keys keep the given order; the reference writes them in its hash map's order.)
 */
export function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, TensorToWrite>>,
  metadata?: Readonly<Record<string, string>>,
): void {
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) checkTensorToWrite(path, name, t);
  entries.sort(
    ([nameA, a], [nameB, b]) =>
      WRITE_RANK.indexOf(b.dtype) - WRITE_RANK.indexOf(a.dtype) ||
      Buffer.compare(Buffer.from(nameA), Buffer.from(nameB)),
  );

  const fields: string[] = [];
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string')
        throw new SafetensorsError(path, `__metadata__[${JSON.stringify(key)}] must be a string, got ${typeof value}`);
    }
    fields.push(
      `"__metadata__":{${Object.entries(metadata)
        .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
        .join(',')}}`,
    );
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const nbytes = numel(t.shape) * DTYPE_SIZE[t.dtype];
    fields.push(
      `${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + nbytes}]}`,
    );
    offset += nbytes;
  }
  const json = Buffer.from(`{${fields.join(',')}}`, 'utf8');
  const header = Buffer.alloc(Math.ceil(json.byteLength / 8) * 8, ' ');
  json.copy(header);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.byteLength));

  writeFileAtomic(path, (fd) => {
    writeAll(fd, length);
    writeAll(fd, header);
    for (const [name, t] of entries) {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      checkData(path, name, t, data);
      writeAll(fd, data);
    }
  });
}

/** Number of elements of a validated shape ([] is a scalar: 1). */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Throws unless `t` can be written under `name` (`path` says where, for the message). */
export function checkTensorToWrite(path: string, name: string, t: TensorToWrite): void {
  if (name === '__metadata__') throw new SafetensorsError(path, 'the name is reserved for the header metadata', name);
  if (!Object.hasOwn(DTYPE_SIZE, t.dtype))
    throw new SafetensorsError(path, `unsupported dtype ${JSON.stringify(t.dtype)}`, name);
  checkShape(t.shape, path, name);
  if (typeof t.data !== 'function') checkData(path, name, t, t.data);
}

function checkData(path: string, name: string, t: TensorToWrite, data: unknown): asserts data is Uint8Array {
  const expected = numel(t.shape) * DTYPE_SIZE[t.dtype];
  if (!(data instanceof Uint8Array) || data.byteLength !== expected) {
    const got = data instanceof Uint8Array ? `${data.byteLength} bytes` : `not a Uint8Array (${describe(data)})`;
    throw new SafetensorsError(
      path,
      `data is ${got}, but ${t.dtype} ${JSON.stringify(t.shape)} needs ${expected}`,
      name,
    );
  }
}

function parseHeader(
  bytes: Uint8Array,
  path: string,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new SafetensorsError(path, 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(
      path,
      `header is not valid JSON (${(err as Error).message}); it starts ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  if (!isPlainObject(header)) throw new SafetensorsError(path, `header must be a JSON object, got ${describe(header)}`);

  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(value, path);
    else tensors.set(name, parseTensorInfo(value, path, name));
  }
  // File order (the reference also sorts by offsets: headers written by old versions may be name-ordered).
  const sorted = [...tensors].sort(
    ([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  return { tensors: new Map(sorted), metadata };
}

function parseMetadata(value: unknown, path: string): Record<string, string> {
  if (!isPlainObject(value))
    throw new SafetensorsError(path, `__metadata__ must be an object of strings, got ${describe(value)}`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string')
      throw new SafetensorsError(path, `__metadata__[${JSON.stringify(key)}] must be a string, got ${describe(v)}`);
  }
  return value as Record<string, string>;
}

function parseTensorInfo(value: unknown, path: string, name: string): TensorInfo {
  const fail = (message: string): never => {
    throw new SafetensorsError(path, message, name);
  };
  if (!isPlainObject(value))
    return fail(`entry must be an object with dtype, shape and data_offsets, got ${describe(value)}`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') return fail(`dtype must be a string, got ${describe(dtype)}`);
  if (!Object.hasOwn(DTYPE_SIZE, dtype)) {
    return fail(
      OTHER_REFERENCE_DTYPES.includes(dtype)
        ? `dtype ${dtype} is valid safetensors but not supported here (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`
        : `unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`,
    );
  }
  checkShape(shape, path, name);
  if (!Array.isArray(offsets) || offsets.length !== 2)
    return fail(`data_offsets must be [begin, end], got ${describe(offsets)}`);
  for (const o of offsets) {
    if (!Number.isSafeInteger(o) || o < 0)
      fail(`data_offsets ${JSON.stringify(offsets)} must be non-negative integers`);
  }
  return { dtype: dtype as SafetensorsDType, shape, dataOffsets: [offsets[0], offsets[1]] };
}

function checkShape(shape: unknown, path: string, name: string): asserts shape is number[] {
  if (!Array.isArray(shape))
    throw new SafetensorsError(path, `shape must be an array of dimensions, got ${describe(shape)}`, name);
  shape.forEach((d: unknown, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new SafetensorsError(
        path,
        `shape ${JSON.stringify(shape)}: dimension ${i} is ${JSON.stringify(d)}, not a non-negative integer`,
        name,
      );
    }
  });
  // Total bytes must stay exact in a double (the largest element size is 8); with a 0 dimension the product
  // of the others could reach Infinity and give NaN, so it is empty whatever they are.
  if (!shape.includes(0) && shape.reduce((a: number, b: number) => a * b, 8) > Number.MAX_SAFE_INTEGER) {
    throw new SafetensorsError(path, `shape ${JSON.stringify(shape)} is too large to address`, name);
  }
}

/** The tensors, in offset order, must tile [0, dataLength) exactly, each spanning numel * element size. */
function checkLayout(tensors: Map<string, TensorInfo>, dataLength: number, path: string): void {
  let covered = 0;
  let previous: string | undefined;
  for (const [
    name,
    {
      dtype,
      shape,
      dataOffsets: [begin, end],
    },
  ] of tensors) {
    const fail = (message: string): never => {
      throw new SafetensorsError(path, message, name);
    };
    const offsets = `data_offsets [${begin}, ${end}]`;
    if (end < begin) fail(`${offsets} end before they begin`);
    if (end > dataLength)
      fail(
        `${offsets} run past the end of the data area (${dataLength} bytes): file truncated or offsets out of range`,
      );
    const expected = numel(shape) * DTYPE_SIZE[dtype];
    if (end - begin !== expected)
      fail(`shape ${JSON.stringify(shape)} of ${dtype} needs ${expected} bytes, but ${offsets} span ${end - begin}`);
    const after = previous === undefined ? 'the start of the data area' : `tensor ${JSON.stringify(previous)}`;
    if (begin < covered) fail(`${offsets} overlap ${after}, which ends at ${covered}`);
    if (begin > covered)
      fail(
        `${offsets} leave a gap of ${begin - covered} bytes after ${after} (which ends at ${covered}); tensors must be contiguous`,
      );
    covered = end;
    previous = name;
  }
  if (covered !== dataLength) {
    const last =
      previous === undefined ? 'no tensors' : `the last tensor (${JSON.stringify(previous)}) ends at ${covered}`;
    throw new SafetensorsError(
      path,
      `data area is ${dataLength} bytes but ${last}: ${dataLength - covered} trailing bytes not covered by any tensor`,
    );
  }
}

/** Reads exactly `length` bytes at `position` into a fresh (so 8-byte aligned) buffer. */
function readExactly(fd: number, path: string, position: number, length: number, tensor?: string): Uint8Array {
  const out = new Uint8Array(length);
  const CHUNK = 1 << 30; // one read(2) returns at most ~2 GiB on Linux
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, Math.min(CHUNK, length - done), position + done);
    if (n === 0)
      throw new SafetensorsError(
        path,
        `file ended after ${position + done} bytes, while reading ${length} bytes at ${position} (was it truncated after opening?)`,
        tensor,
      );
    done += n;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array ${JSON.stringify(v).slice(0, 60)}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}
