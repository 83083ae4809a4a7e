// Streams the records of an instruction file without parsing it whole: a JSON array (LLaVA's format; the 665K
// LLaVA-1.5 mix is about 1 GB) or JSON lines. Yields each record's bytes with its byte offset, so an index can
// re-read any record later with one positioned read. The scanner only looks at ASCII structural bytes, which
// never occur inside UTF-8 multi-byte sequences, so chunk boundaries need no decoding care.
import { createReadStream } from 'node:fs';

export interface RawRecord {
  /** Byte offset and length of the record's JSON text in the file. */
  offset: number;
  bytes: Buffer;
  /** 1-based line of the record's first byte, and its 0-based position among records, for messages. */
  line: number;
  ordinal: number;
}

export type RecordFormat = 'json' | 'jsonl';

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const [LBRACE, RBRACE, LBRACKET, RBRACKET, QUOTE, BACKSLASH, COMMA, NEWLINE] = [0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x5c, 0x2c, 0x0a];

export async function* readRecords(path: string, chunkSize = 1 << 20): AsyncGenerator<RawRecord & { format: RecordFormat }> {
  let format: RecordFormat | undefined;
  let depth = 0; // JSON nesting, counting the top-level array as 1
  let inString = false;
  let escaped = false;
  let done = false; // the top-level array closed
  let line = 1;
  let ordinal = 0;
  let pos = 0; // absolute offset of the current chunk's first byte
  let start = -1; // absolute offset of the current record, -1 between records
  let startLine = 0;
  let lastNonWs = -1; // absolute offset of the record's last non-whitespace byte
  let parts: Buffer[] = [];
  let partsFrom = 0; // absolute offset of parts[0]

  const take = (end: number): RawRecord => {
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const bytes = all.subarray(start - partsFrom, end + 1 - partsFrom);
    const rec = { offset: start, bytes, line: startLine, ordinal: ordinal++ };
    start = -1;
    parts = [];
    return rec;
  };

  for await (const chunk of createReadStream(path, { highWaterMark: chunkSize }) as AsyncIterable<Buffer>) {
    if (start >= 0) parts.push(chunk);
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      const at = pos + i;
      if (b === NEWLINE) line++;
      if (format === undefined) {
        if (WS.has(b) || (at === 0 && b === 0xef) || (at <= 2 && (b === 0xbb || b === 0xbf))) continue; // whitespace, BOM
        if (b === LBRACKET) { format = 'json'; depth = 1; continue; }
        if (b === LBRACE) format = 'jsonl';
        else throw new Error(`${path}: not LLaVA instruction data: expected a JSON array '[' or JSON lines '{' at byte ${at}, found ${JSON.stringify(String.fromCharCode(b))}`);
      }
      if (done) {
        if (!WS.has(b)) throw new Error(`${path}: unexpected data after the closing ']' at line ${line}`);
        continue;
      }
      // In JSON lines a raw newline always ends a record, even one whose string never closed (a malformed line).
      if (format === 'jsonl' && b === NEWLINE) {
        if (start >= 0) yield { ...take(lastNonWs), format };
        inString = escaped = false;
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
        lastNonWs = at;
        continue;
      }
      if (format === 'json' && depth === 1 && (b === COMMA || b === RBRACKET)) {
        if (start >= 0) yield { ...take(lastNonWs), format };
        if (b === RBRACKET) { depth = 0; done = true; }
        continue;
      }
      if (start < 0) {
        if (WS.has(b)) continue;
        start = at;
        startLine = line;
        parts = [chunk.subarray(i)];
        partsFrom = at;
      }
      if (b === QUOTE) inString = true;
      else if (b === LBRACE || b === LBRACKET) depth++;
      else if (b === RBRACE || b === RBRACKET) depth--;
      if (!WS.has(b)) lastNonWs = at;
    }
    pos += chunk.length;
  }
  if (format === undefined) throw new Error(`${path}: the file is empty`);
  if (start >= 0) {
    if (format === 'json') throw new Error(`${path}: the JSON array is not closed (truncated file?); last record starts at line ${startLine}`);
    yield { ...take(lastNonWs), format };
  } else if (format === 'json' && !done) {
    throw new Error(`${path}: the JSON array is not closed (truncated file?)`);
  }
}
