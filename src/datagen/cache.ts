// Response cache keyed by request content: SHA-256 of the canonical request body (model,
// messages, sampling settings). A hit costs nothing, so re-running a finished or crashed job
// only pays for requests never answered. One file per response, sharded by the key's first two
// hex digits; each is written to a temporary name and renamed, so a kill never leaves half a file.
// The file calls are synchronous: for files this small they cost less CPU than the thread-pool
// round trips of fs/promises (measured in bench/datagen.ts), and block the loop for microseconds.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Completion, RequestBody } from './client.js';

export function requestKey(body: RequestBody): string {
  // Fixed field order: the same request always hashes the same, whatever built the object.
  const canonical = JSON.stringify([body.model, body.messages.map((m) => [m.role, m.content]), body.temperature ?? null, body.max_tokens ?? null]);
  return createHash('sha256').update(canonical).digest('hex');
}

export class ResponseCache {
  private tmpCounter = 0;
  private readonly shards = new Set<string>(); // shard folders known to exist

  constructor(readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** The cached completion, or undefined (missing or unreadable entries are misses). */
  get(key: string): Completion | undefined {
    let text: string;
    try {
      text = readFileSync(this.path(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const value = JSON.parse(text) as Completion;
      return typeof value.content === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  }

  put(key: string, completion: Completion): void {
    const path = this.path(key);
    const shard = key.slice(0, 2);
    if (!this.shards.has(shard)) {
      mkdirSync(join(this.dir, shard), { recursive: true });
      this.shards.add(shard);
    }
    const tmp = `${path}.${process.pid}.${this.tmpCounter++}.tmp`;
    writeFileSync(tmp, JSON.stringify(completion));
    renameSync(tmp, path);
  }
}
