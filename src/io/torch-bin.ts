// PyTorch `.bin` state dicts (torch.save's zip format, PyTorch >= 1.6), raw layer: no tensors, only bytes, so
// that it loads without the libtorch addon. The original LLaVA checkpoints ship their weights this way
// (pytorch_model-0000N-of-0000M.bin, mm_projector.bin, non_lora_trainables.bin).
//
// The file is a zip whose entries sit under one directory, `<archive>/` ("archive", or the saved file's stem in
// older PyTorch):
//   data.pkl      the state dict, pickled (protocol 2): each tensor is
//                 torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks)
//                 where `storage` is a persistent id ('storage', torch.<T>Storage, key, location, numel);
//   data/<key>    each storage's bytes, stored uncompressed (and 64-byte aligned), elements in the writer's order;
//   version, byteorder ("little"/"big", written since PyTorch 2.1; older files are little-endian in practice).
// Several tensors may view one storage (tied weights, slices), each at its offset with its strides.
//
// Opening reads the zip directory and data.pkl and checks every tensor's view against its storage's size;
// readRaw(name) reads only the bytes that tensor covers, with positioned reads, and returns them contiguous.

import { closeSync, openSync, readSync } from 'node:fs';
import { PickleError, PyDict, typeName, unpickle } from './pickle.js';
import type { PyCallable } from './pickle.js';
import { DTYPE_SIZE, numel } from './safetensors.js';
import type { RawTensor, SafetensorsDType } from './safetensors.js';
import { ZipError, ZipFile } from './zip.js';

/** torch.<T>Storage -> element dtype (safetensors names, as RawTensor uses). */
const STORAGE_DTYPE: Readonly<Record<string, SafetensorsDType>> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** Where a tensor's elements are: `storageOffset` and `stride` count elements of the storage. */
export interface TorchTensorInfo {
  dtype: SafetensorsDType;
  shape: number[];
  /** The storage's key: its bytes are the zip entry `<archive>/data/<key>`. */
  storage: string;
  storageOffset: number;
  stride: number[];
}

/** What a lazily opened .bin checkpoint offers, whether one file or several shards (as RawTensorSource for safetensors). */
export interface TorchBinSource {
  /** Tensor names, in state dict order. */
  names(): string[];
  has(name: string): boolean;
  info(name: string): TorchTensorInfo;
  readRaw(name: string): RawTensor;
  close(): void;
}

/** A malformed, unsafe or unsupported .bin file; `file` and (when one is to blame) `tensor` say where. */
export class TorchBinError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${tensor === undefined ? '' : `tensor ${JSON.stringify(tensor)}: `}${message}`);
    this.name = 'TorchBinError';
  }
}

class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: SafetensorsDType,
  ) {}
}

class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: SafetensorsDType,
  ) {}
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

export class TorchBinFile implements TorchBinSource {
  private constructor(
    readonly path: string,
    private readonly zip: ZipFile,
    /** The entries' directory, e.g. "archive". */
    readonly archive: string,
    private readonly bigEndian: boolean,
    private readonly tensors: Map<string, TorchTensorInfo>,
  ) {}

  /** Reads the zip directory and the pickled state dict and checks every view; no tensor bytes are read. */
  static open(path: string): TorchBinFile {
    refuseLegacyFormat(path);
    let zip: ZipFile;
    try {
      zip = ZipFile.open(path);
    } catch (err) {
      throw err instanceof ZipError
        ? new TorchBinError(path, `not a readable torch.save zip archive: ${err.detail}`)
        : err;
    }
    try {
      const archive = archiveName(zip, path);
      const byteorder = zip.entries.has(`${archive}/byteorder`)
        ? new TextDecoder().decode(readEntry(zip, `${archive}/byteorder`, path)).trim()
        : 'little';
      if (byteorder !== 'little' && byteorder !== 'big')
        throw new TorchBinError(path, `${archive}/byteorder says ${JSON.stringify(byteorder)}, not "little" or "big"`);
      const tensors = readStateDict(zip, archive, path);
      return new TorchBinFile(path, zip, archive, byteorder === 'big', tensors);
    } catch (err) {
      zip.close();
      throw err;
    }
  }

  /** Tensor names, in the state dict's order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TorchTensorInfo {
    const info = this.tensors.get(name);
    if (info === undefined)
      throw new TorchBinError(this.path, `no such tensor (the file has ${this.tensors.size})`, name);
    return { ...info, shape: [...info.shape], stride: [...info.stride] };
  }

  /** Reads the bytes this tensor covers (not the rest of its storage) into a fresh, contiguous, little-endian buffer. */
  readRaw(name: string): RawTensor {
    const { dtype, shape, storage, storageOffset, stride } = this.info(name);
    const size = DTYPE_SIZE[dtype];
    if (numel(shape) === 0) return { dtype, shape, data: new Uint8Array(0) };
    const extent = lastElement(shape, stride) + 1; // elements from storageOffset through the last one the view touches
    let span: Uint8Array;
    try {
      span = this.zip.readRange(`${this.archive}/data/${storage}`, storageOffset * size, extent * size);
    } catch (err) {
      throw err instanceof ZipError ? new TorchBinError(this.path, err.detail, name) : err;
    }
    const data = isRowMajor(shape, stride) ? span : gather(span, shape, stride, size);
    if (this.bigEndian) swapBytes(data, size);
    return { dtype, shape, data };
  }

  close(): void {
    this.zip.close();
  }
}

/** Every tensor of the state dict in `path`, read whole (see TorchBinFile for reading them one at a time). */
export function readTorchBin(path: string): Map<string, RawTensor> {
  const file = TorchBinFile.open(path);
  try {
    return new Map(file.names().map((name) => [name, file.readRaw(name)]));
  } finally {
    file.close();
  }
}

// Before PyTorch 1.6 (and with _use_new_zipfile_serialization=False) torch.save wrote a bare pickle stream that
// starts with the protocol-2 header and this magic number as a LONG1: 0x1950a86a20f9469cfc6c.
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

function refuseLegacyFormat(path: string): void {
  const fd = openSync(path, 'r');
  const head = new Uint8Array(LEGACY_MAGIC.length);
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (LEGACY_MAGIC.every((b, i) => head[i] === b)) {
    throw new TorchBinError(
      path,
      'this is the legacy torch.save format (PyTorch < 1.6, or _use_new_zipfile_serialization=False), ' +
        'which is not read here; re-save it once with PyTorch >= 1.6: torch.save(torch.load(p), p), or convert it to safetensors',
    );
  }
}

/** The directory holding data.pkl: the one entry named `<archive>/data.pkl`. */
function archiveName(zip: ZipFile, path: string): string {
  const names = [...zip.entries.keys()];
  const pickles = names.filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length > 1)
    throw new TorchBinError(path, `the zip holds several state dicts (${pickles.join(', ')}); torch.save writes one`);
  if (pickles.length === 0) {
    throw new TorchBinError(
      path,
      `no <archive>/data.pkl entry, so not a torch.save file (entries: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''})`,
    );
  }
  const archive = pickles[0].slice(0, -'/data.pkl'.length);
  // torch.jit.save writes data.pkl too, beside the module's code and constants.
  if (zip.entries.has(`${archive}/constants.pkl`))
    throw new TorchBinError(
      path,
      'this is a TorchScript archive (torch.jit.save), not a torch.save state dict: load it with torch.jit.load',
    );
  return archive;
}

function readEntry(zip: ZipFile, name: string, path: string): Uint8Array {
  try {
    return zip.read(name);
  } catch (err) {
    throw err instanceof ZipError ? new TorchBinError(path, err.detail) : err;
  }
}

/** Unpickles data.pkl into name -> view, and checks each view lies inside its storage's entry. */
function readStateDict(zip: ZipFile, archive: string, path: string): Map<string, TorchTensorInfo> {
  const pkl = `${archive}/data.pkl`;
  const storages = new Map<string, StorageRef>();
  let root: unknown;
  try {
    root = unpickle(readEntry(zip, pkl, path), {
      findGlobal: (module, name) => findGlobal(module, name),
      persistentLoad: (pid) => loadStorage(pid, storages),
    });
  } catch (err) {
    throw err instanceof PickleError ? new TorchBinError(path, `${pkl}: ${err.message}`) : err;
  }
  if (!(root instanceof PyDict))
    throw new TorchBinError(path, `${pkl} holds a ${typeName(root)}, not a state dict (a dict of tensors)`);

  const tensors = new Map<string, TorchTensorInfo>();
  for (const [name, value] of root.items) {
    if (typeof name !== 'string')
      throw new TorchBinError(
        path,
        `the state dict has a key that is a ${typeName(name)} (${String(name)}), not a string`,
      );
    if (!(value instanceof TensorRef))
      throw new TorchBinError(
        path,
        `the value is a ${typeName(value)}, not a tensor; only state dicts of tensors are read`,
        name,
      );
    const { storage, storageOffset, shape, stride } = value;
    const entry = `${archive}/data/${storage.key}`;
    if (!zip.entries.has(entry))
      throw new TorchBinError(
        path,
        `its storage ${JSON.stringify(storage.key)} has no data entry ${JSON.stringify(entry)} (file incomplete?)`,
        name,
      );
    const size = DTYPE_SIZE[storage.dtype];
    const available = zip.entries.get(entry)!.size;
    if (available % size !== 0)
      throw new TorchBinError(
        path,
        `entry ${JSON.stringify(entry)} is ${available} bytes, not a whole number of ${storage.dtype} elements`,
        name,
      );
    const needed = numel(shape) === 0 ? 0 : storageOffset + lastElement(shape, stride) + 1;
    if (needed * size > available) {
      throw new TorchBinError(
        path,
        `its view (offset ${storageOffset}, size [${shape}], stride [${stride}]) reaches element ${needed - 1} of storage ` +
          `${JSON.stringify(storage.key)}, which holds ${available / size} ${storage.dtype} elements (${available} bytes): storage too small`,
        name,
      );
    }
    tensors.set(name, { dtype: storage.dtype, shape, storage: storage.key, storageOffset, stride });
  }
  return tensors;
}

/** The stand-ins for the only globals a state dict needs; anything else is refused, never imported or called. */
function findGlobal(module: string, name: string): unknown {
  const qualified = `${module}.${name}`;
  switch (qualified) {
    case 'collections.OrderedDict':
      return ((args) => {
        if (args.length !== 0)
          throw new Error(`OrderedDict called with ${args.length} arguments; torch.save passes none`);
        return new PyDict();
      }) satisfies PyCallable;
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2':
      return rebuildTensor satisfies PyCallable;
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return ((args) => {
        if (!(args[0] instanceof TensorRef)) throw new Error(`${name} of a ${typeName(args[0])}, not a tensor`);
        return args[0];
      }) satisfies PyCallable;
    case 'torch.serialization._get_layout':
      return ((args) => args[0]) satisfies PyCallable;
  }
  if (module === 'torch' && Object.hasOwn(STORAGE_DTYPE, name)) return new StorageType(name, STORAGE_DTYPE[name]);
  if (module === 'torch' && name.endsWith('Storage')) {
    throw new Error(
      `storages of torch.${name} are not supported (supported: ${Object.keys(STORAGE_DTYPE).join(', ')})`,
    );
  }
  throw new Error(
    `refusing the global ${qualified}: only the globals of a plain state dict of tensors are allowed ` +
      '(collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.<T>Storage); ' +
      'this file holds other Python objects, and loading it with Python would run that code',
  );
}

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
function rebuildTensor(args: readonly unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef))
    throw new Error(`_rebuild_tensor_v2 expects a storage first, got a ${typeName(storage)}`);
  const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const isIndexTuple = (v: unknown): v is number[] => Array.isArray(v) && v.every(isIndex);
  if (!isIndex(offset)) throw new Error(`storage_offset must be a non-negative integer, got ${String(offset)}`);
  if (!isIndexTuple(size) || !isIndexTuple(stride) || size.length !== stride.length) {
    throw new Error(
      `size and stride must be tuples of non-negative integers of one length, got ${JSON.stringify(size)} and ${JSON.stringify(stride)}`,
    );
  }
  if (!size.includes(0) && size.reduce((a, b) => a * b, DTYPE_SIZE[storage.dtype]) > Number.MAX_SAFE_INTEGER)
    throw new Error(`size [${size}] is too large to address`);
  return new TensorRef(storage, offset, [...size], [...stride]);
}

/** ('storage', torch.<T>Storage, key, location, numel) -> the storage, one object per key. */
function loadStorage(pid: unknown, storages: Map<string, StorageRef>): StorageRef {
  if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
    throw new Error(
      `persistent id ${JSON.stringify(pid)?.slice(0, 80)} is not ('storage', type, key, location, numel)`,
    );
  }
  const [, type, key] = pid;
  if (!(type instanceof StorageType))
    throw new Error(`persistent id names a ${typeName(type)} where a torch.<T>Storage belongs`);
  if (typeof key !== 'string' || !/^[\w.-]+$/.test(key))
    throw new Error(`storage key ${JSON.stringify(key)} is not a plain name`);
  const known = storages.get(key);
  if (known !== undefined && known.dtype !== type.dtype)
    throw new Error(`storage ${JSON.stringify(key)} is used both as ${known.dtype} and as ${type.dtype}`);
  if (known === undefined) storages.set(key, new StorageRef(key, type.dtype));
  return storages.get(key)!;
}

/** Index of the view's last element, relative to its offset (strides are never negative in PyTorch). */
function lastElement(shape: readonly number[], stride: readonly number[]): number {
  return shape.reduce((sum, d, i) => sum + (d - 1) * stride[i], 0);
}

/** Whether the strides are those of a contiguous row-major tensor (dimensions of size 1 may have any stride). */
function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Copies a strided view out of `span` (which starts at the view's offset) into row-major order. */
function gather(span: Uint8Array, shape: readonly number[], stride: readonly number[], size: number): Uint8Array {
  const out = new Uint8Array(numel(shape) * size);
  // Copy whole elements as 1-, 2- or 4-byte words (two words for 8-byte ones): integer words keep NaN payloads.
  // Both buffers are fresh, so aligned.
  const Words: {
    new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): Uint8Array | Uint16Array | Uint32Array;
    BYTES_PER_ELEMENT: number;
  } = size === 1 ? Uint8Array : size === 2 ? Uint16Array : Uint32Array;
  const perElement = size / Words.BYTES_PER_ELEMENT;
  const src = new Words(span.buffer, span.byteOffset, span.byteLength / Words.BYTES_PER_ELEMENT);
  const dst = new Words(out.buffer);
  const rank = shape.length;
  const inner = shape[rank - 1];
  const innerStep = stride[rank - 1] * perElement;
  const index = new Array<number>(rank).fill(0);
  let row = 0; // word offset in src of the current row's first element
  for (let o = 0; o < dst.length;) {
    for (let j = 0, at = row; j < inner; j++, at += innerStep) {
      for (let w = 0; w < perElement; w++) dst[o++] = src[at + w];
    }
    // Next row: advance the odometer over the outer dimensions.
    for (let d = rank - 2; d >= 0; d--) {
      if (++index[d] < shape[d]) {
        row += stride[d] * perElement;
        break;
      }
      row -= (shape[d] - 1) * stride[d] * perElement;
      index[d] = 0;
    }
  }
  return out;
}

function swapBytes(data: Uint8Array, size: number): void {
  if (size > 1) for (let i = 0; i < data.length; i += size) data.subarray(i, i + size).reverse();
}
