// One rank of the distributed tests, started by launch() with torchrun's variables; the
// scenario is argv[2]. Each rank writes what it saw to $LLAVA_TEST_OUT/rank<r>.json (an error as
// { error }) and exits non-zero on error, so the tests read every rank's view.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../../src/torch/index.js';
import { ProcessGroup } from '../../src/distributed/index.js';
import { trainTinyLlama } from './tiny-training.js';

const values = (t: T.Tensor): number[] => Array.from(t.toTypedArray() as Float32Array);

// Inputs that differ per rank, so every result below is checkable by hand (collectives.test.ts).
async function collectives(g: ProcessGroup): Promise<unknown> {
  const r = g.rank;
  const sum = T.tensor([r + 1, 10 * (r + 1)]);
  await g.allReduce(sum, 'sum');
  const avg = T.tensor([r + 1, 10 * (r + 1)]);
  await g.allReduce(avg, 'avg');
  const max = T.tensor([r, -r]);
  await g.allReduce(max, 'max');
  const broadcast = T.tensor([100 + r, 200 + r, 300 + r]);
  await g.broadcast(broadcast, g.worldSize - 1);
  const gathered = await g.allGather(T.tensor([r, 10 * r]));
  // chunk q of rank r's input holds [100 r + 2 q, 100 r + 2 q + 1]
  const scatterIn = T.tensor(Array.from({ length: 2 * g.worldSize }, (_, i) => 100 * r + i));
  const scattered = await g.reduceScatter(scatterIn, 'sum');
  const scatteredAvg = await g.reduceScatter(scatterIn, 'avg');
  await g.barrier();
  return {
    sum: values(sum),
    avg: values(avg),
    max: values(max),
    broadcast: values(broadcast),
    gathered: gathered.map(values),
    scattered: values(scattered),
    scatteredAvg: values(scatteredAvg),
  };
}

// The others wait in an all-reduce that rank $LLAVA_TEST_VICTIM never joins: it SIGKILLs itself.
async function dieMidCollective(g: ProcessGroup): Promise<unknown> {
  await g.barrier();
  if (g.rank === Number(process.env.LLAVA_TEST_VICTIM)) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    process.kill(process.pid, 'SIGKILL');
  }
  await g.allReduce(T.ones([1024]), 'sum');
  return 'the all-reduce completed without the killed rank';
}

// Rank 0 all-reduces with a 1 s limit; rank 1 stays alive but never joins. Rank 0 leaves at once
// afterwards (process.exit): Gloo still holds the abandoned all-reduce.
async function collectiveTimeout(g: ProcessGroup): Promise<unknown> {
  await g.barrier();
  if (g.rank === 1) return new Promise((resolve) => setTimeout(() => resolve('stayed away'), 4000));
  const message = await g.allReduce(T.ones([4]), 'sum', 1000).then(
    () => 'completed',
    (err: Error) => err.message,
  );
  writeFileSync(join(process.env.LLAVA_TEST_OUT!, `rank0.json`), JSON.stringify({ result: message }));
  process.exit(0);
}

const scenarios: Record<string, (g: ProcessGroup) => Promise<unknown>> = {
  collectives,
  dieMidCollective,
  collectiveTimeout,
  ...Object.fromEntries(
    (['ddp', 'zero1', 'zero2'] as const).map((mode) => [
      mode,
      (g: ProcessGroup) =>
        trainTinyLlama({
          group: g,
          mode,
          ga: Number(process.env.LLAVA_TEST_GA),
          clip: process.env.LLAVA_TEST_CLIP ? Number(process.env.LLAVA_TEST_CLIP) : undefined,
          steps: process.env.LLAVA_TEST_STEPS?.split(',').map(Number) as [number, number] | undefined,
          resume: process.env.LLAVA_TEST_RESUME,
          saveOptimizer: process.env.LLAVA_TEST_SAVE_OPTIMIZER === '1',
          dtype: process.env.LLAVA_TEST_DTYPE as 'float32' | 'float64' | undefined,
          out: process.env.LLAVA_TEST_OUT!,
        }),
    ]),
  ),
};

async function main(out: string): Promise<void> {
  const rank = Number(process.env.RANK);
  try {
    const group = await ProcessGroup.fromEnv({ timeoutMs: 60_000 });
    const result = await scenarios[process.argv[2]!]!(group);
    writeFileSync(join(out, `rank${rank}.json`), JSON.stringify({ result }));
    group.close();
  } catch (err) {
    writeFileSync(join(out, `rank${rank}.json`), JSON.stringify({ error: (err as Error).message }));
    process.exit(1);
  }
}

// The test runner also loads this file as a test (it sits under test/): then it does nothing.
if (process.env.LLAVA_TEST_OUT) await main(process.env.LLAVA_TEST_OUT);
