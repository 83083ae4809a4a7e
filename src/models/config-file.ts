// A checkpoint folder's config.json, read as a JSON object with errors that name the file.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function readConfig(dir: string): Record<string, unknown> {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new Error(`${dir}: no config.json (is this a model folder?)`);
  try {
    const json: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('not a JSON object');
    return json as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}
