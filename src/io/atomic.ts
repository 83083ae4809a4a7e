// Atomic file replacement: a reader (or a resumed job) sees either the old file or the complete new one,
// never a partial write, even if the process dies halfway through a multi-gigabyte checkpoint.

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Creates or replaces `path` with what `write` writes to the file descriptor it is given. The bytes go to a
 * temporary file in the same directory (so the final rename stays on one filesystem and is atomic), are
 * flushed to disk, and only then renamed over `path`; the directory is flushed too, so the rename survives a
 * power loss. If `write` throws, the temporary file is removed and `path` is left untouched.
 */
export function writeFileAtomic(path: string, write: (fd: number) => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fd = openSync(tmp, 'wx');
  try {
    write(fd);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  syncDirectory(dirname(path));
}

/** Writes every byte of `bytes` at the descriptor's current position (one writeSync may write fewer). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  // Chunks of at most 1 GiB: a single write(2) is capped near 2 GiB on Linux.
  const CHUNK = 1 << 30;
  let done = 0;
  while (done < bytes.byteLength) {
    done += writeSync(fd, bytes, done, Math.min(CHUNK, bytes.byteLength - done));
  }
}

/** fsync of a folder, so a rename inside it survives a power cut. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
