// Response cache keyed by request content: SHA-256 of the canonical request body (model,
// messages, sampling settings). A hit costs nothing, so re-running a finished or crashed job
// only pays for requests never answered.
//
// One append-only log, <dir>/responses.log, one line per reply:
//   <key: 64 hex> <crc32 of key and JSON: 8 hex> <the Completion as JSON>\n
// A reply is appended (one write call, synchronously) as soon as it arrives, before its record
// can be committed, so a kill re-pays only the requests still in flight (the page cache keeps
// what a killed process wrote; after a system crash the checksums catch damage). Opening the log reads
// the keys into an index (key -> where the JSON is), cuts a torn last line and skips lines whose
// checksum fails; a hit reads its JSON back by offset. One file instead of one file per reply:
// the per-file layout cost ~1 ms of kernel time per reply and held a run at concurrency 64 to
// 50-89% of the endpoint's rate. Folders in that layout (<dir>/<2 hex>/<key>.json) are moved
// into the log when the cache is opened.

import { createHash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  read,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import type { Completion, RequestBody } from './client.js';
import { lockFolder } from './folder-lock.js';
import { appendAll, scanLines } from './line-file.js';

const readAsync = promisify(read);
const KEY_HEX = /^[0-9a-f]{64}$/;
const HEADER_BYTES = 64 + 1 + 8 + 1; // key, space, crc32, space

export function requestKey(body: RequestBody): string {
  // Fixed field order: the same request always hashes the same, whatever built the object.
  const canonical = JSON.stringify([
    body.model,
    body.messages.map((m) => [m.role, m.content]),
    body.temperature ?? null,
    body.max_tokens ?? null,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

function checksum(key: Buffer, json: Buffer): string {
  return crc32(json, crc32(key)).toString(16).padStart(8, '0');
}

function isCompletion(value: unknown): value is Completion {
  return typeof (value as Completion | null)?.content === 'string';
}

export class ResponseCache {
  /** key -> byte range of its JSON in the log. */
  private readonly index = new Map<string, { offset: number; length: number }>();
  /** Complete lines skipped on open because their checksum or header was wrong. */
  corruptLines = 0;
  /** Replies moved in from the per-file layout by this open. */
  migrated = 0;

  private constructor(
    readonly dir: string,
    private readonly fd: number,
    private size: number,
    private readonly unlock: () => void,
  ) {}

  static readonly FILE = 'responses.log';

  /** Opens (creating) the cache in `dir`; one run uses a cache folder at a time. */
  static open(dir: string): ResponseCache {
    mkdirSync(dir, { recursive: true });
    const unlock = lockFolder(dir);
    const path = join(dir, ResponseCache.FILE);
    let cache: ResponseCache;
    try {
      const entries: [string, number, number][] = [];
      let corrupt = 0;
      const size = scanLines(path, (line, offset) => {
        const key = line.toString('latin1', 0, 64);
        const json = line.subarray(HEADER_BYTES);
        const valid =
          line.length > HEADER_BYTES &&
          KEY_HEX.test(key) &&
          line[64] === 0x20 &&
          line[HEADER_BYTES - 1] === 0x20 &&
          line.toString('latin1', 65, 73) === checksum(line.subarray(0, 64), json);
        if (valid) entries.push([key, offset + HEADER_BYTES, json.length]);
        else corrupt++;
      });
      cache = new ResponseCache(dir, openSync(path, 'a+'), size, unlock);
      cache.corruptLines = corrupt;
      for (const [key, offset, length] of entries) if (!cache.index.has(key)) cache.index.set(key, { offset, length });
    } catch (err) {
      unlock();
      throw err;
    }
    try {
      cache.migrateFileLayout();
    } catch (err) {
      cache.close();
      throw err;
    }
    return cache;
  }

  /** Number of replies in the cache. */
  get entries(): number {
    return this.index.size;
  }

  /** The cached completion, or undefined. */
  async get(key: string): Promise<Completion | undefined> {
    const at = this.index.get(key);
    if (!at) return undefined;
    const { buffer, bytesRead } = await readAsync(this.fd, Buffer.alloc(at.length), 0, at.length, at.offset);
    try {
      const value: unknown = JSON.parse(buffer.toString('utf8', 0, bytesRead));
      return isCompletion(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** Appends the reply (synchronously: it is on file when this returns); a key already cached is kept as is. */
  put(key: string, completion: Completion): void {
    if (this.index.has(key)) return;
    const keyBytes = Buffer.from(key, 'latin1');
    const json = Buffer.from(JSON.stringify(completion), 'utf8');
    const line = Buffer.concat([
      keyBytes,
      Buffer.from(` ${checksum(keyBytes, json)} `, 'latin1'),
      json,
      Buffer.from('\n', 'latin1'),
    ]);
    appendAll(this.fd, line);
    this.index.set(key, { offset: this.size + HEADER_BYTES, length: json.length });
    this.size += line.length;
  }

  close(): void {
    closeSync(this.fd);
    this.unlock();
  }

  /**
   * Moves replies of the per-file layout into the log: appended and synced first, then the old
   * files removed, so a kill in between only leaves files the next open moves again (their keys
   * are then already in the log). Unreadable old files were misses and are removed too.
   */
  private migrateFileLayout(): void {
    const shards = readdirSync(this.dir).filter((name) => /^[0-9a-f]{2}$/.test(name) && isDir(join(this.dir, name)));
    if (shards.length === 0) return;
    const files: string[] = [];
    for (const shard of shards) {
      for (const name of readdirSync(join(this.dir, shard))) {
        const key = name.slice(0, -'.json'.length);
        if (!name.endsWith('.json') || !KEY_HEX.test(key) || !key.startsWith(shard)) continue;
        const path = join(this.dir, shard, name);
        files.push(path);
        let value: unknown;
        try {
          value = JSON.parse(readFileSync(path, 'utf8'));
        } catch {
          continue;
        }
        if (isCompletion(value) && !this.index.has(key)) {
          this.put(key, value);
          this.migrated++;
        }
      }
    }
    fsyncSync(this.fd);
    for (const path of files) rmSync(path, { force: true });
    for (const shard of shards) {
      try {
        rmdirSync(join(this.dir, shard));
      } catch {
        // not empty: it holds files that are not ours; leave them
      }
    }
  }
}

function isDir(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
}
