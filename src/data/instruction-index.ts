// An index over an instruction file: one streaming pass records where each valid sample's bytes are and its
// modality length, so samples are read back one at a time (the reference's lazy dataset) and a 1 GB file is never
// held in memory. Malformed records are an error, or with `onBadRecord: 'skip'` left out and reported.
import { openSync, readSync, closeSync } from 'node:fs';
import { readRecords } from './json-records.js';
import { modalityLength, parseSample, SampleError, type Sample } from './sample.js';

export type BadInputPolicy = 'error' | 'skip';

export interface SkippedRecord {
  where: string;
  reason: string;
}

/** Plain data (structured-cloneable) so worker threads can share it. */
export interface InstructionIndex {
  path: string;
  offsets: Float64Array;
  byteLengths: Uint32Array;
  lines: Uint32Array;
  /** Word counts, + for image samples and - for text-only ones (the length-grouped sampler's input). */
  modalityLengths: Int32Array;
  skipped: SkippedRecord[];
}

export async function indexInstructionFile(
  path: string,
  options: { onBadRecord?: BadInputPolicy } = {},
): Promise<InstructionIndex> {
  const policy = options.onBadRecord ?? 'error';
  const offsets: number[] = [];
  const byteLengths: number[] = [];
  const lines: number[] = [];
  const lengths: number[] = [];
  const skipped: SkippedRecord[] = [];
  for await (const rec of readRecords(path)) {
    const where = `${path}:${rec.line} (record ${rec.ordinal})`;
    try {
      const sample = parseSample(parseJson(rec.bytes, where), where);
      offsets.push(rec.offset);
      byteLengths.push(rec.bytes.length);
      lines.push(rec.line);
      lengths.push(modalityLength(sample));
    } catch (err) {
      if (policy === 'error' || !(err instanceof SampleError)) throw err;
      skipped.push({ where: err.where, reason: err.message.slice(err.where.length + 2) });
    }
  }
  return {
    path,
    offsets: Float64Array.from(offsets),
    byteLengths: Uint32Array.from(byteLengths),
    lines: Uint32Array.from(lines),
    modalityLengths: Int32Array.from(lengths),
    skipped,
  };
}

function parseJson(bytes: Buffer, where: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new SampleError(where, `malformed JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** Random access to indexed samples through one open file descriptor. */
export class InstructionFile {
  private fd: number;

  constructor(readonly index: InstructionIndex) {
    this.fd = openSync(index.path, 'r');
  }

  get size(): number {
    return this.index.offsets.length;
  }

  get(i: number): Sample {
    if (!Number.isInteger(i) || i < 0 || i >= this.size)
      throw new RangeError(`sample index ${i} is outside 0..${this.size - 1}`);
    const bytes = Buffer.allocUnsafe(this.index.byteLengths[i]!);
    const read = readSync(this.fd, bytes, 0, bytes.length, this.index.offsets[i]!);
    const where = `${this.index.path}:${this.index.lines[i]}`;
    if (read !== bytes.length) throw new SampleError(where, 'the file changed since it was indexed (short read)');
    return parseSample(parseJson(bytes, where), where);
  }

  close(): void {
    closeSync(this.fd);
  }
}
