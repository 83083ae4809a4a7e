// Reading zip archives (PKWARE APPNOTE 6.3) entry by entry, with positioned reads: what torch.save writes.
// Only the central directory is read when opening; an entry's bytes are read when asked for, and a stored
// (uncompressed) entry can be read in part, by offset, so a tensor is read out of a 10 GB shard without the rest.
//
// Layout read here: [local header + data]... central directory, [zip64 end record, zip64 locator], end record.
// The end record (22 bytes + comment) holds 16/32-bit counts and offsets; where one does not fit it is
// 0xFFFF/0xFFFFFFFF and the real value is in the zip64 end record (directory) or in the entry's zip64
// extra field 0x0001 (sizes, local header offset), as PyTorch's writer (miniz) does for shards over 4 GB.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export const STORED = 0;
export const DEFLATED = 8;

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate (the only methods read here). */
  method: number;
  compressedSize: number;
  size: number;
  /** File position of the entry's local header; its data follows the header's name and extra field. */
  localHeaderOffset: number;
}

/** A malformed, truncated or unsupported zip file; `file` says which. */
export class ZipError extends Error {
  /** `detail` is the message without the file name. */
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'ZipError';
  }
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

export class ZipFile {
  private readonly dataStarts = new Map<string, number>();

  private constructor(
    readonly path: string,
    private fd: number | undefined,
    readonly size: number,
    /** name -> entry, in central directory order. */
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  /** Reads the central directory; throws ZipError if `path` is not a complete zip archive. */
  static open(path: string): ZipFile {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      return new ZipFile(path, fd, size, readCentralDirectory(fd, path, size));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** The whole (decompressed) entry. */
  read(name: string): Uint8Array {
    const entry = this.entry(name);
    if (entry.method === STORED) return this.readRange(name, 0, entry.size);
    const compressed = this.readAt(this.dataStart(entry), entry.compressedSize, name);
    let out: Buffer;
    try {
      out = inflateRawSync(compressed);
    } catch (err) {
      throw new ZipError(
        this.path,
        `entry ${JSON.stringify(name)}: deflate data is corrupt (${(err as Error).message})`,
      );
    }
    if (out.byteLength !== entry.size)
      throw new ZipError(
        this.path,
        `entry ${JSON.stringify(name)}: inflates to ${out.byteLength} bytes, but the directory says ${entry.size}`,
      );
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  /** Bytes [begin, begin + length) of the decompressed entry; only those are read when the entry is stored. */
  readRange(name: string, begin: number, length: number): Uint8Array {
    const entry = this.entry(name);
    if (begin < 0 || length < 0 || begin + length > entry.size) {
      throw new ZipError(
        this.path,
        `entry ${JSON.stringify(name)}: bytes [${begin}, ${begin + length}) are outside its ${entry.size}`,
      );
    }
    if (entry.method !== STORED) return this.read(name).slice(begin, begin + length);
    return this.readAt(this.dataStart(entry) + begin, length, name);
  }

  entry(name: string): ZipEntry {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new ZipError(this.path, `no entry ${JSON.stringify(name)} in the archive`);
    return entry;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** File position of the entry's data, from its local header (whose extra field may differ from the directory's). */
  private dataStart(entry: ZipEntry): number {
    let start = this.dataStarts.get(entry.name);
    if (start === undefined) {
      const header = view(this.readAt(entry.localHeaderOffset, 30, entry.name));
      if (header.getUint32(0, true) !== LOCAL_SIGNATURE) {
        throw new ZipError(
          this.path,
          `entry ${JSON.stringify(entry.name)}: no local header at offset ${entry.localHeaderOffset} (corrupt directory)`,
        );
      }
      start = entry.localHeaderOffset + 30 + header.getUint16(26, true) + header.getUint16(28, true);
      if (start + entry.compressedSize > this.size) {
        throw new ZipError(
          this.path,
          `entry ${JSON.stringify(entry.name)}: its ${entry.compressedSize} bytes at ${start} run past the end of the file (${this.size} bytes): truncated?`,
        );
      }
      this.dataStarts.set(entry.name, start);
    }
    return start;
  }

  private readAt(position: number, length: number, name: string): Uint8Array {
    if (this.fd === undefined) throw new ZipError(this.path, `read of ${JSON.stringify(name)} after close()`);
    return readExactly(this.fd, this.path, position, length);
  }
}

function readCentralDirectory(fd: number, path: string, size: number): Map<string, ZipEntry> {
  const fail = (message: string): never => {
    throw new ZipError(path, message);
  };
  // The end record is the last thing in the file but for its comment (at most 64 KiB); search back for it.
  const tailLength = Math.min(size, EOCD_SIZE + MAX_COMMENT);
  const tail = readExactly(fd, path, size - tailLength, tailLength);
  const tailView = view(tail);
  let eocd = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (
      tailView.getUint32(i, true) === EOCD_SIGNATURE &&
      i + EOCD_SIZE + tailView.getUint16(i + 20, true) === tailLength
    ) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0)
    fail(`no zip end-of-central-directory record in the last ${tailLength} bytes: not a zip archive, or truncated`);
  const eocdPosition = size - tailLength + eocd;
  let count = tailView.getUint16(eocd + 10, true);
  let directorySize = tailView.getUint32(eocd + 12, true);
  let directoryOffset = tailView.getUint32(eocd + 16, true);
  if (tailView.getUint16(eocd + 4, true) !== 0 || tailView.getUint16(eocd + 6, true) !== 0)
    fail('multi-disk (split) zip archives are not supported');

  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    if (eocdPosition < 20) fail('the end record points to a zip64 end record, but there is no room for its locator');
    const locator = view(readExactly(fd, path, eocdPosition - 20, 20));
    if (locator.getUint32(0, true) !== ZIP64_LOCATOR_SIGNATURE)
      fail('the end record says zip64, but the zip64 locator is missing');
    const recordOffset = u64(locator, 8, path);
    if (recordOffset + 56 > eocdPosition - 20) fail(`zip64 end record offset ${recordOffset} is out of range`);
    const record = view(readExactly(fd, path, recordOffset, 56));
    if (record.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) fail(`no zip64 end record at offset ${recordOffset}`);
    count = u64(record, 32, path);
    directorySize = u64(record, 40, path);
    directoryOffset = u64(record, 48, path);
  }
  if (directoryOffset + directorySize > eocdPosition) {
    fail(
      `the central directory (${directorySize} bytes at ${directoryOffset}) overlaps the end record at ${eocdPosition}: truncated or corrupt`,
    );
  }

  const directory = readExactly(fd, path, directoryOffset, directorySize);
  const dv = view(directory);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > directorySize || dv.getUint32(p, true) !== CENTRAL_SIGNATURE)
      fail(`central directory entry ${i} of ${count} is missing or corrupt (at byte ${p} of the directory)`);
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let uncompressedSize = dv.getUint32(p + 24, true);
    const nameLength = dv.getUint16(p + 28, true);
    const extraLength = dv.getUint16(p + 30, true);
    const commentLength = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    const end = p + 46 + nameLength + extraLength + commentLength;
    if (end > directorySize) fail(`central directory entry ${i} runs past the end of the directory`);
    const name = new TextDecoder().decode(directory.subarray(p + 46, p + 46 + nameLength));
    // zip64 extra field: the 64-bit values, in this order, of only those fields set to 0xFFFFFFFF.
    for (let e = p + 46 + nameLength; e + 4 <= p + 46 + nameLength + extraLength;) {
      const id = dv.getUint16(e, true);
      const length = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const next = (): number => {
          if (q + 8 > e + 4 + length) fail(`entry ${JSON.stringify(name)}: zip64 extra field is too short`);
          q += 8;
          return u64(dv, q - 8, path);
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
      }
      e += 4 + length;
    }
    if (flags & 1) fail(`entry ${JSON.stringify(name)} is encrypted`);
    if (method !== STORED && method !== DEFLATED)
      fail(
        `entry ${JSON.stringify(name)} uses compression method ${method}; only stored (0) and deflate (8) are supported`,
      );
    if (method === STORED && compressedSize !== uncompressedSize)
      fail(`entry ${JSON.stringify(name)} is stored, yet its sizes differ (${compressedSize} vs ${uncompressedSize})`);
    if (localHeaderOffset + 30 + compressedSize > directoryOffset) {
      fail(
        `entry ${JSON.stringify(name)}: its ${compressedSize} bytes at offset ${localHeaderOffset} run into the central directory (at ${directoryOffset}): corrupt`,
      );
    }
    entries.set(name, { name, method, compressedSize, size: uncompressedSize, localHeaderOffset });
    p = end;
  }
  return entries;
}

function u64(dv: DataView, offset: number, path: string): number {
  const value = dv.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ZipError(path, `a 64-bit size or offset (${value}) is too large to address`);
  return Number(value);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `length` bytes at `position`, into a fresh buffer; an early end of file is a ZipError. */
function readExactly(fd: number, path: string, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const CHUNK = 1 << 30; // one read(2) returns at most ~2 GiB on Linux
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, Math.min(CHUNK, length - done), position + done);
    if (n === 0)
      throw new ZipError(
        path,
        `file ended after ${position + done} bytes, while reading ${length} bytes at ${position} (truncated?)`,
      );
    done += n;
  }
  return out;
}
