// Minimal safetensors reader for fixtures (8-byte little-endian header length, JSON header, raw little-endian data),
// used until src/io/safetensors.ts lands; only the float32 tensors the vision tests need.
import { readFileSync } from 'node:fs';

export function readFloat32Tensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLength;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (entry.dtype !== 'F32') throw new Error(`${path}: ${name} is ${entry.dtype}, only F32 is read here`);
    const [begin, end] = entry.data_offsets;
    const copy = new Uint8Array(bytes.subarray(base + begin, base + end));
    out.set(name, { shape: entry.shape, data: new Float32Array(copy.buffer) });
  }
  return out;
}
