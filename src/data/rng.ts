// Seeded randomness for the data path: every draw is a pure function of (seed, stream, counter), so an epoch's order
// or a sample's coin can be recomputed anywhere (another worker, a resumed run) without replaying earlier draws.

/** SplitMix64 finaliser on a BigInt state: a well-mixed 64-bit hash. */
function mix64(x: bigint): bigint {
  const M = (1n << 64n) - 1n;
  x = (x + 0x9e3779b97f4a7c15n) & M;
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & M;
  return x ^ (x >> 31n);
}

/** A generator of uniform doubles in [0, 1) for the given seed and stream ids. */
export function rng(seed: number, ...stream: number[]): () => number {
  let state = mix64(BigInt(seed));
  for (const s of stream) state = mix64(state ^ BigInt(s));
  let counter = 0n;
  return () => Number(mix64(state + counter++) >> 11n) / 2 ** 53;
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, next: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
