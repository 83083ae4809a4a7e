// Writing torch.save's zip format (PyTorch >= 1.6), the counterpart of torch-bin.ts: a flat dict of tensors, as the
// reference writes mm_projector.bin and non_lora_trainables.bin, that `torch.load` reads back unchanged.
//
// Entries, all stored (uncompressed) under `archive/`: data.pkl (the dict, pickle protocol 2, each value
// torch._utils._rebuild_tensor_v2(persistent storage ('storage', torch.<T>Storage, key, 'cpu', numel), 0, size,
// contiguous stride, False, OrderedDict())), data/<k> (each tensor's own storage, 64-byte aligned as PyTorch's
// writer aligns them), byteorder ("little") and version ("3"). Files over 4 GiB need zip64, which this writer does
// not produce: it refuses them (write safetensors instead).
import { crc32 } from 'node:zlib';
import { writeAll, writeFileAtomic } from './atomic.js';
import { DTYPE_SIZE, type SafetensorsDType } from './safetensors.js';
import type { DType, Tensor } from '../torch/index.js';

export interface BinTensorToWrite {
  dtype: SafetensorsDType;
  shape: number[];
  /** Row-major little-endian bytes. */
  data: Uint8Array;
}

const STORAGE: Readonly<Record<SafetensorsDType, string>> = {
  F64: 'DoubleStorage',
  F32: 'FloatStorage',
  F16: 'HalfStorage',
  BF16: 'BFloat16Storage',
  I64: 'LongStorage',
  I32: 'IntStorage',
  I16: 'ShortStorage',
  I8: 'CharStorage',
  U8: 'ByteStorage',
  BOOL: 'BoolStorage',
};
const ALIGN = 64;
const ARCHIVE = 'archive';

/** Writes `tensors` (in this order) to `path` atomically as torch.save(dict) does. */
export function writeTorchBin(path: string, tensors: ReadonlyMap<string, BinTensorToWrite>): void {
  const records: [string, Uint8Array][] = [[`${ARCHIVE}/data.pkl`, pickleStateDict(tensors)]];
  [...tensors.values()].forEach((t, k) => {
    const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype];
    if (t.data.byteLength !== expected)
      throw new Error(
        `${path}: tensor ${k} has ${t.data.byteLength} bytes for shape [${t.shape}] ${t.dtype} (expected ${expected})`,
      );
    records.push([`${ARCHIVE}/data/${k}`, t.data]);
  });
  records.push([`${ARCHIVE}/byteorder`, Buffer.from('little')], [`${ARCHIVE}/version`, Buffer.from('3\n')]);
  writeFileAtomic(path, (fd) => writeZip(fd, records, path));
}

// ---- pickle (protocol 2), only the opcodes a state dict needs ----

class Pickler {
  readonly chunks: Buffer[] = [];
  op(...bytes: number[]): this {
    this.chunks.push(Buffer.from(bytes));
    return this;
  }
  global(module: string, name: string): this {
    this.chunks.push(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
    return this;
  }
  string(s: string): this {
    const utf8 = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(utf8.length);
    this.chunks.push(Buffer.from([0x58]), len, utf8); // BINUNICODE
    return this;
  }
  int(n: number): this {
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a; // BININT
      b.writeInt32LE(n, 1);
      this.chunks.push(b);
    } else {
      const b = Buffer.alloc(10);
      b[0] = 0x8a; // LONG1, 8 bytes little-endian two's complement
      b[1] = 8;
      b.writeBigInt64LE(BigInt(n), 2);
      this.chunks.push(b);
    }
    return this;
  }
  tuple(items: number[]): this {
    if (items.length === 0) return this.op(0x29); // EMPTY_TUPLE
    this.op(0x28); // MARK
    for (const i of items) this.int(i);
    return this.op(0x74); // TUPLE
  }
}

function pickleStateDict(tensors: ReadonlyMap<string, BinTensorToWrite>): Uint8Array {
  const p = new Pickler().op(0x80, 2).op(0x7d); // PROTO 2, EMPTY_DICT
  if (tensors.size > 0) p.op(0x28); // MARK
  [...tensors].forEach(([name, t], k) => {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    p.string(name).global('torch._utils', '_rebuild_tensor_v2').op(0x28);
    p.op(0x28).string('storage').global('torch', STORAGE[t.dtype]).string(String(k)).string('cpu').int(numel);
    p.op(0x74, 0x51); // TUPLE, BINPERSID
    p.int(0).tuple(t.shape).tuple(stride).op(0x89); // offset, size, stride, NEWFALSE (requires_grad)
    p.global('collections', 'OrderedDict').op(0x29, 0x52); // OrderedDict() for backward hooks
    p.op(0x74, 0x52); // TUPLE, REDUCE
  });
  if (tensors.size > 0) p.op(0x75); // SETITEMS
  return Buffer.concat([...p.chunks, Buffer.from([0x2e])]); // STOP
}

// ---- zip (stored entries, 64-byte aligned data, no zip64) ----

function writeZip(fd: number, records: [string, Uint8Array][], path: string): void {
  let offset = 0;
  const central: Buffer[] = [];
  const emit = (b: Uint8Array) => {
    writeAll(fd, b);
    offset += b.byteLength;
  };
  for (const [name, data] of records) {
    const nameBytes = Buffer.from(name, 'utf8');
    // Pad with an extra field so the data starts on a 64-byte boundary, as PyTorch's writer does.
    const headerEnd = offset + 30 + nameBytes.length;
    const pad = (ALIGN - ((headerEnd + 4) % ALIGN)) % ALIGN;
    const extra = Buffer.alloc(4 + pad);
    extra.writeUInt16LE(0x4246, 0); // "FB", PyTorch's padding field id
    extra.writeUInt16LE(pad, 2);
    const crc = crc32(data);
    if (offset + 30 + nameBytes.length + extra.length + data.byteLength > 0xffffffff)
      throw new Error(`${path}: over 4 GiB; this .bin writer does not write zip64 (save as safetensors)`);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(0, 10); // time, date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.byteLength, 18);
    local.writeUInt32LE(data.byteLength, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4); // version made by
    entry.writeUInt16LE(20, 6);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(data.byteLength, 20);
    entry.writeUInt32LE(data.byteLength, 24);
    entry.writeUInt16LE(nameBytes.length, 28);
    entry.writeUInt32LE(offset, 42); // local header offset
    central.push(entry, nameBytes);
    emit(local);
    emit(nameBytes);
    emit(extra);
    emit(data);
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(records.length, 8);
  end.writeUInt16LE(records.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  emit(directory);
  emit(end);
}

const SAFETENSORS_NAME: Readonly<Record<DType, SafetensorsDType>> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

/** Tensors (copied out of libtorch one at a time) to a torch.save file, e.g. mm_projector.bin. */
export function saveTorchBin(path: string, tensors: ReadonlyMap<string, Tensor>): void {
  const raw = new Map<string, BinTensorToWrite>();
  for (const [name, t] of tensors) {
    const a = t.contiguous().toTypedArray();
    raw.set(name, {
      dtype: SAFETENSORS_NAME[t.dtype],
      shape: [...t.shape],
      data: new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    });
  }
  writeTorchBin(path, raw);
}
