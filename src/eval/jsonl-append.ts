// A JSONL output that grows one line per finished item and resumes after any interruption: each
// line goes out in one write call, so a kill can at most leave a torn last line (no newline),
// which opening cuts off. The lines already there are handed back for the caller to skip.

import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseJsonl, type JsonlLine } from './jsonl.js';

export class JsonlAppender {
  private constructor(
    readonly path: string,
    private fd: number,
    readonly existing: JsonlLine[],
  ) {}

  static open(path: string): JsonlAppender {
    mkdirSync(dirname(path), { recursive: true });
    let existing: JsonlLine[] = [];
    if (existsSync(path)) {
      const bytes = readFileSync(path);
      const end = bytes.lastIndexOf(0x0a) + 1; // after the last complete line
      if (end < bytes.length) {
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, end);
        closeSync(fd);
      }
      existing = parseJsonl(bytes.subarray(0, end).toString('utf8'), path, { keepFloats: true });
    }
    return new JsonlAppender(path, openSync(path, 'a'), existing);
  }

  /** One complete line (the caller's serialisation, without the newline). */
  append(line: string): void {
    writeSync(this.fd, `${line}\n`);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
