// Append-only line files: the output JSONL, the response cache log and the request ledger. Each
// line goes out in one write call, so a kill leaves at most a torn last line (no newline), which
// `scanLines` cuts off before anything is appended after it.

import { closeSync, existsSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

/**
 * Calls `onLine` with each complete line of `path` (without its newline) and the line's byte
 * offset, reading in chunks (files can outgrow a string), then cuts a torn last line. Returns the
 * file's length after the cut (0 for a missing file). The line buffer is only valid during the call.
 */
export function scanLines(path: string, onLine: (line: Buffer, offset: number, index: number) => void): number {
  if (!existsSync(path)) return 0;
  const fd = openSync(path, 'r+');
  try {
    const chunk = Buffer.alloc(8 << 20);
    let pending = Buffer.alloc(0); // bytes after the last newline seen so far
    let offset = 0; // file offset of chunk[0]
    let lineStart = 0; // file offset of pending[0]
    let index = 0;
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, offset)) > 0; offset += n) {
      let data = pending.length > 0 ? Buffer.concat([pending, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a)) {
        onLine(data.subarray(0, nl), lineStart, index++);
        lineStart += nl + 1;
        data = data.subarray(nl + 1);
      }
      pending = Buffer.from(data);
    }
    if (pending.length > 0) ftruncateSync(fd, lineStart);
    return lineStart;
  } finally {
    closeSync(fd);
  }
}

/** Writes all of `bytes` at the end of the file open as `fd` (a write may be partial). */
export function appendAll(fd: number, bytes: Buffer): void {
  for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
}
