// Streams the records of an instruction file without parsing it whole: a JSON array (LLaVA's format; the 665K
// LLaVA-1.5 mix is about 1 GB) or JSON lines. Yields each record's bytes with its byte offset, so an index can
// re-read any record later with one positioned read. The scanner only looks at ASCII structural bytes, which
// never occur inside UTF-8 multi-byte sequences, so chunk boundaries need no decoding care.
import { createReadStream } from 'node:fs';

export type RecordFormat = 'json' | 'jsonl';

export interface RawRecord {
  format: RecordFormat;
  /** Byte offset and length of the record's JSON text in the file. */
  offset: number;
  bytes: Buffer;
  /** 1-based line of the record's first byte, and its 0-based position among records, for messages. */
  line: number;
  ordinal: number;
}

// JSON whitespace as a byte lookup table (the scanner's hottest test).
const WS = new Uint8Array(256);
for (const b of [0x20, 0x09, 0x0a, 0x0d]) WS[b] = 1;
const [LBRACE, RBRACE, LBRACKET, RBRACKET, QUOTE, BACKSLASH, COMMA, NEWLINE] = [
  0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x5c, 0x2c, 0x0a,
];
const UTF8_BOM = [0xef, 0xbb, 0xbf];

export async function* readRecords(path: string, chunkSize = 1 << 20): AsyncGenerator<RawRecord> {
  const scanner = new RecordScanner(path);
  for await (const chunk of createReadStream(path, { highWaterMark: chunkSize }) as AsyncIterable<Buffer>) {
    yield* scanner.push(chunk);
  }
  yield* scanner.end();
}

/** Splits a byte stream into records; synchronous per chunk so the byte loop stays a plain, optimisable loop. */
class RecordScanner {
  private format: RecordFormat | undefined;
  private depth = 0; // JSON nesting, counting the top-level array as 1
  private inString = false;
  private escaped = false;
  private done = false; // the top-level array closed
  private line = 1;
  private ordinal = 0;
  private pos = 0; // absolute offset of the next chunk's first byte
  private start = -1; // absolute offset of the current record, -1 between records
  private startLine = 0;
  private lastNonWs = -1; // absolute offset of the current record's last non-whitespace byte
  private parts: Buffer[] = []; // chunks holding the current record, the first one cut at its start
  private partsFrom = 0; // absolute offset of parts[0]

  constructor(private readonly path: string) {}

  push(chunk: Buffer): RawRecord[] {
    const out: RawRecord[] = [];
    if (this.start >= 0) this.parts.push(chunk);
    let i = 0;
    if (this.format === undefined) i = this.detect(chunk);
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === NEWLINE) this.line++;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
        else if (b === NEWLINE && this.format === 'jsonl') this.endRecord(out); // a raw newline ends a malformed line
        if (this.inString || b === QUOTE) this.lastNonWs = this.pos + i;
        continue;
      }
      if (this.done) {
        if (!WS[b]) throw new Error(`${this.path}: unexpected data after the closing ']' at line ${this.line}`);
        continue;
      }
      if (this.format === 'jsonl' ? b === NEWLINE : this.depth === 1 && (b === COMMA || b === RBRACKET)) {
        if (this.start >= 0) this.endRecord(out);
        if (this.format === 'json' && b === RBRACKET) this.done = true;
        continue;
      }
      if (WS[b]) continue;
      if (this.start < 0) {
        this.start = this.pos + i;
        this.startLine = this.line;
        this.parts = [chunk.subarray(i)];
        this.partsFrom = this.start;
      }
      if (b === QUOTE) this.inString = true;
      else if (b === LBRACE || b === LBRACKET) this.depth++;
      else if (b === RBRACE || b === RBRACKET) this.depth--;
      this.lastNonWs = this.pos + i;
    }
    this.pos += chunk.length;
    return out;
  }

  end(): RawRecord[] {
    if (this.format === undefined) throw new Error(`${this.path}: the file is empty`);
    if (this.format === 'json' && !this.done) {
      const last = this.start >= 0 ? `; the last record starts at line ${this.startLine}` : '';
      throw new Error(`${this.path}: the JSON array is not closed (truncated file?)${last}`);
    }
    const out: RawRecord[] = [];
    if (this.start >= 0) this.endRecord(out);
    return out;
  }

  /** Skips leading whitespace and a UTF-8 BOM, then fixes the format from the first byte; returns where to go on. */
  private detect(chunk: Buffer): number {
    let i = 0;
    while (i < chunk.length && (WS[chunk[i]!] || (this.pos + i < 3 && chunk[i] === UTF8_BOM[this.pos + i]))) {
      if (chunk[i] === NEWLINE) this.line++;
      i++;
    }
    if (i === chunk.length) return i;
    const b = chunk[i]!;
    if (b === LBRACKET) {
      this.format = 'json';
      this.depth = 1;
      return i + 1;
    }
    if (b === LBRACE) {
      this.format = 'jsonl';
      return i;
    }
    throw new Error(
      `${this.path}: not LLaVA instruction data: expected a JSON array '[' or JSON lines '{' at byte ${this.pos + i}, found ${JSON.stringify(String.fromCharCode(b))}`,
    );
  }

  private endRecord(out: RawRecord[]): void {
    const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    const bytes = all.subarray(0, this.lastNonWs + 1 - this.partsFrom);
    out.push({ format: this.format!, offset: this.start, bytes, line: this.startLine, ordinal: this.ordinal++ });
    this.start = -1;
    this.parts = [];
    this.inString = this.escaped = false;
    this.depth = this.format === 'json' ? 1 : 0;
  }
}
