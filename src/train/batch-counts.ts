// What the trainer counts of a step's micro-batches (targets, tokens, rows), summed over the micro-batches and, in a
// distributed run, over the ranks.
import type { ProcessGroup } from '../distributed/index.js';
import { noGrad, scope, tensor } from '../torch/index.js';
import type { MicroBatch } from './trainer.js';

/** Targets the loss counts (labels[:, 1:] ≠ -100 at attended positions), tokens, rows, rows without targets. */
export function countTargets(batch: MicroBatch): Counts {
  return noGrad(() =>
    scope(() => {
      const L = batch.labels.size(1);
      const attended = batch.attentionMask.ne(0);
      const supervised = batch.labels
        .ne(-100)
        .logicalAnd(attended)
        .narrow(1, 1, L - 1)
        .sum(1); // [B]
      return {
        targets: supervised.sum().item(),
        tokens: attended.sum().item(),
        samples: batch.labels.size(0),
        fullyMasked: supervised.eq(0).sum().item(),
      };
    }),
  );
}

export type Counts = { targets: number; tokens: number; samples: number; fullyMasked: number };

export const sumCounts = (counts: Counts[]): Counts =>
  counts.reduce((a, c) => ({
    targets: a.targets + c.targets,
    tokens: a.tokens + c.tokens,
    samples: a.samples + c.samples,
    fullyMasked: a.fullyMasked + c.fullyMasked,
  }));

/** Each field summed over the group's ranks (float64, exact for counts and for fp32 losses). */
export async function allReduceSum<T extends Record<string, number>>(group: ProcessGroup, values: T): Promise<T> {
  const keys = Object.keys(values);
  const t = tensor(
    Float64Array.from(keys, (k) => values[k]!),
    [keys.length],
  );
  await group.allReduce(t, 'sum');
  const sums = Array.from(t.toTypedArray() as Float64Array);
  t.dispose();
  return Object.fromEntries(keys.map((k, i) => [k, sums[i]])) as T;
}

export function disposeBatch(b: MicroBatch): void {
  for (const t of [b.inputIds, b.attentionMask, b.labels, b.pixelValues]) t?.dispose();
}
