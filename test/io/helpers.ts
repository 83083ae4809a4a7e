// Shared by the io tests: where the golden fixtures are, scratch directories, and safetensors files built
// byte by byte (so that the bytes under test never come from the writer under test).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The repository root: tests run compiled, from dist/test/io/. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const GOLDEN_DIR = join(REPO_ROOT, '../shared/golden');

/** A fresh directory, removed when the test file finishes. */
export function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'llava-io-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** 8-byte little-endian header length, the header text as given (no padding added), then `data`. */
export function safetensorsBytes(header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = Buffer.from(header, 'utf8');
  const out = Buffer.alloc(8 + json.byteLength + data.byteLength);
  out.writeBigUInt64LE(BigInt(json.byteLength), 0);
  json.copy(out, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

/** Writes `bytes` to `dir/name` and returns the path. */
export function writeBytes(dir: string, name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Little-endian bytes of the given values, e.g. f32(1, 2) = 8 bytes. */
export function f32(...values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
