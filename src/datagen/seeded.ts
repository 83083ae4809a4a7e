// Seeded choices that depend only on (seed, record, purpose), never on processing order, so a
// resumed or concurrently processed run draws exactly what an uninterrupted serial run draws.

import { createHash } from 'node:crypto';

/** An index in [0, n) drawn from SHA-256 of the seed and the parts (48 bits: bias < 2^-40 for n < 256). */
export function seededIndex(n: number, seed: number, ...parts: string[]): number {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`seededIndex: n must be a positive integer, got ${n}`);
  const digest = createHash('sha256')
    .update([String(seed), ...parts].join('\0'))
    .digest();
  return digest.readUIntBE(0, 6) % n;
}
