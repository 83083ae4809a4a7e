// The order samples are visited in, per epoch, from a seed: plain shuffling, or LLaVA's length grouping by modality
// (llava_trainer.py `get_modality_length_grouped_indices`; spec §4.9) so a batch holds samples of similar length and
// one modality. An epoch's order depends only on (seed, epoch), so a run resumes at any position by recomputing it.
import { permutation, rng } from './rng.js';

export interface SamplerOptions {
  seed: number;
  /** Group by length and modality (`--group_by_modality_length True`) instead of a plain shuffle. */
  groupByModalityLength?: boolean;
  /** Samples per device per optimizer step (per-device batch x gradient accumulation), as the reference's megabatch. */
  batchSize: number;
  worldSize?: number;
}

/** Sample indices of one epoch. `lengths` are modality lengths: + image, - text-only, never 0. */
export function epochOrder(lengths: ArrayLike<number>, epoch: number, options: SamplerOptions): number[] {
  const next = rng(options.seed, epoch);
  if (!options.groupByModalityLength) return permutation(lengths.length, next);
  return modalityGroupedIndices(Array.from(lengths), options.batchSize, options.worldSize ?? 1, next);
}

function modalityGroupedIndices(lengths: number[], batchSize: number, worldSize: number, next: () => number): number[] {
  if (lengths.some((l) => l === 0)) throw new Error('length-grouped sampling: a sample has length 0');
  if (lengths.every((l) => l > 0) || lengths.every((l) => l < 0)) {
    return lengthGroupedIndices(lengths.map(Math.abs), batchSize, worldSize, next);
  }
  const mm = lengths.flatMap((l, i) => (l > 0 ? [i] : []));
  const lang = lengths.flatMap((l, i) => (l < 0 ? [i] : []));
  const mmOrder = lengthGroupedIndices(
    mm.map((i) => lengths[i]!),
    batchSize,
    worldSize,
    next,
  ).map((k) => mm[k]!);
  const langOrder = lengthGroupedIndices(
    lang.map((i) => -lengths[i]!),
    batchSize,
    worldSize,
    next,
  ).map((k) => lang[k]!);
  const size = worldSize * batchSize;
  const mmMega = chunk(mmOrder, size);
  const langMega = chunk(langOrder, size);
  // The last (possibly partial) megabatch of each modality is merged, sorted by index, and goes last.
  const additional = [...(mmMega.pop() ?? []), ...(langMega.pop() ?? [])].sort((a, b) => a - b);
  const megabatches = [...mmMega, ...langMega];
  const shuffled = permutation(megabatches.length, next).map((i) => megabatches[i]!);
  if (additional.length > 0) shuffled.push(additional);
  return shuffled.flat();
}

function lengthGroupedIndices(lengths: number[], batchSize: number, worldSize: number, next: () => number): number[] {
  const megabatches = chunk(permutation(lengths.length, next), worldSize * batchSize)
    .map((m) => m.sort((a, b) => lengths[b]! - lengths[a]!)) // longest first; stable, like Python's sorted
    .map((m) => splitToEvenChunks(m, lengths, worldSize));
  return megabatches.flat(2);
}

/** Splits a megabatch across ranks, each index to the rank with the least total length so far. */
function splitToEvenChunks(indices: number[], lengths: number[], chunks: number): number[][] {
  if (indices.length % chunks !== 0)
    return Array.from({ length: chunks }, (_, r) => indices.filter((_, k) => k % chunks === r));
  const perChunk = indices.length / chunks;
  const out: number[][] = Array.from({ length: chunks }, () => []);
  const totals = new Array<number>(chunks).fill(0);
  for (const index of indices) {
    const shortest = totals.indexOf(Math.min(...totals));
    out[shortest]!.push(index);
    totals[shortest]! += lengths[index]!;
    if (out[shortest]!.length === perChunk) totals[shortest] = Infinity;
  }
  return out;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
