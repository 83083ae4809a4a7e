// Response cache keyed by request content: SHA-256 of the canonical request body (model,
// messages, sampling settings). A hit costs nothing, so re-running a finished or crashed job
// only pays for requests never answered. One JSON file per response, sharded by the key's first
// two hex digits, written in place: a file cut short by a kill is not valid JSON and reads as a
// miss, so the temporary-name-and-rename dance (one more file operation per reply) is not needed.
// File calls are asynchronous (a slow shared disk must not stall the event loop) and use the
// callback API, which costs less CPU per call than fs/promises' FileHandles.

import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Completion, RequestBody } from './client.js';

const readFileAsync = promisify(readFile);
const writeFileAsync = promisify(writeFile);
const mkdirAsync = promisify(mkdir);

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

export class ResponseCache {
  private readonly shards = new Map<string, Promise<unknown>>(); // shard folder -> its mkdir

  constructor(readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** The cached completion, or undefined (missing or unreadable entries are misses). */
  async get(key: string): Promise<Completion | undefined> {
    let text: string;
    try {
      text = await readFileAsync(this.path(key), 'utf8');
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

  async put(key: string, completion: Completion): Promise<void> {
    const shard = key.slice(0, 2);
    let made = this.shards.get(shard);
    if (!made) this.shards.set(shard, (made = mkdirAsync(join(this.dir, shard), { recursive: true })));
    await made;
    await writeFileAsync(this.path(key), JSON.stringify(completion));
  }
}
