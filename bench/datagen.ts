// Data-engine throughput against a loopback OpenAI-compatible server that answers every request
// after a fixed delay: records per second at concurrency 1, 8 and 64 with the response cache on,
// and at 64 with --no-cache in the same run, against the ideal concurrency / delay (cache on
// writes every reply to the cache log first; off is the floor of that cost). Memory: the heap
// retained after a full GC, sampled through the run, for a run at 64 and one 4x longer; flat
// memory means the two agree. The server runs in a worker thread (its own event loop, like a
// remote endpoint); default prompts, one type.
// Each rate is the median of --repeats runs; the 1-minute load average is printed beside it,
// since on a shared machine other processes' CPU use shows up as lost throughput.
// Usage: node dist/bench/datagen.js [--delay-ms 100] [--seconds 3] [--repeats 3]

import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  DEFAULT_PRICES,
  DEFAULT_PROMPTS_DIR,
  DETAIL_INSTRUCTIONS,
  loadPromptSet,
  runDatagen,
  type ImageContext,
} from '../src/datagen/index.js';
import { startFakeServer, validReply } from '../test/datagen/fake-server.js';

function contexts(n: number): ImageContext[] {
  return Array.from({ length: n }, (_, i) => ({
    id: String(i).padStart(12, '0'),
    image: `${String(i).padStart(12, '0')}.jpg`,
    captions: [
      `Image ${i}: a person rides a bicycle down a street.`,
      'A cyclist on a city road.',
      'a man on a bike',
      'Someone cycling past parked cars.',
      'A bicycle rider in traffic.',
    ],
    instances: [
      { category: 'person', bbox: [0.1, 0.2, 0.4, 0.9] },
      { category: 'bicycle', bbox: [0.05, 0.5, 0.45, 0.95] },
    ],
  }));
}

async function serverThread(delayMs: number): Promise<void> {
  const server = await startFakeServer((request) => ({ kind: 'reply', content: validReply(request), delayMs }), {
    record: false,
  });
  parentPort!.postMessage(server.baseURL);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'delay-ms': { type: 'string', default: '100' },
      seconds: { type: 'string', default: '3' },
      repeats: { type: 'string', default: '3' },
    },
  });
  const delayMs = Number(values['delay-ms']);
  const seconds = Number(values.seconds);
  const repeats = Number(values.repeats);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const worker = new Worker(new URL(import.meta.url), { workerData: { delayMs } });
  const baseURL = await new Promise<string>((resolve) => worker.once('message', resolve));
  const prompts = [await loadPromptSet(DEFAULT_PROMPTS_DIR, 'conversation')];

  async function measure(concurrency: number, records: number, cache: boolean) {
    const dir = await mkdtemp(join(tmpdir(), 'datagen-bench-'));
    const input = contexts(records);
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let retained = 0;
    let peakRss = 0;
    const sample = setInterval(() => {
      gc();
      const m = process.memoryUsage();
      retained = Math.max(retained, m.heapUsed - baseline);
      peakRss = Math.max(peakRss, m.rss);
    }, 500);
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    const summary = await runDatagen({
      contexts: input,
      prompts,
      instructions: DETAIL_INSTRUCTIONS,
      outDir: dir,
      client: { baseURL, apiKey: 'bench', model: 'bench', timeoutMs: 30_000, maxRetries: 0 },
      concurrency,
      seed: 0,
      placement: 'first',
      cacheDir: cache ? join(dir, 'cache') : null,
      prices: DEFAULT_PRICES,
      maxConsecutiveFailures: 10,
      progress: null,
    });
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = process.cpuUsage(cpuStart); // this thread's and the server worker's: the whole process
    clearInterval(sample);
    await rm(dir, { recursive: true, force: true });
    const written = summary.records.conversation ?? 0;
    if (written !== records)
      throw new Error(`bench: ${written}/${records} records written (${JSON.stringify(summary.failures)})`);
    const rate = records / elapsed;
    const ideal = concurrency / (delayMs / 1000);
    return {
      bench: 'datagen',
      concurrency,
      cache,
      delay_ms: delayMs,
      records,
      seconds: +elapsed.toFixed(3),
      records_per_s: +rate.toFixed(1),
      ideal_per_s: ideal,
      fraction_of_ideal: +(rate / ideal).toFixed(3),
      cpu_ms_per_record: +((cpu.user + cpu.system) / 1000 / records).toFixed(3),
      retained_heap_mb: +(retained / 2 ** 20).toFixed(1),
      peak_rss_mb: +(peakRss / 2 ** 20).toFixed(1),
      load_avg_1m: +loadavg()[0]!.toFixed(2),
    };
  }

  const rows = [];
  await measure(8, 16, true); // warm-up: JIT, sockets
  // Groups measured in turn, one run of each per repeat, so that cache on and off at 64 share
  // the machine's load of the same minutes.
  const groups = [
    [1, true],
    [8, true],
    [64, true],
    [64, false],
  ] as const;
  const runs = groups.map(() => [] as Awaited<ReturnType<typeof measure>>[]);
  for (let r = 0; r < repeats; r++) {
    for (const [g, [concurrency, cache]] of groups.entries())
      runs[g]!.push(await measure(concurrency, Math.round(seconds * concurrency * (1000 / delayMs)), cache));
  }
  for (const group of runs) {
    rows.push(group.sort((a, b) => a.records_per_s - b.records_per_s)[Math.floor(group.length / 2)]!);
    console.log(JSON.stringify({ ...rows.at(-1), repeats, all_records_per_s: group.map((x) => x.records_per_s) }));
  }
  rows.push(await measure(64, 4 * rows.at(-2)!.records, true));
  console.log(JSON.stringify(rows.at(-1)));
  await worker.terminate();

  console.log(
    '\nconcurrency  cache  records  seconds  records/s  ideal/s  of ideal  CPU ms/record  retained heap MB  peak RSS MB  load',
  );
  for (const r of rows) {
    console.log(
      `${String(r.concurrency).padStart(11)}  ${(r.cache ? 'on' : 'off').padStart(5)}  ${String(r.records).padStart(7)}  ${r.seconds.toFixed(2).padStart(7)}  ${r.records_per_s.toFixed(1).padStart(9)}  ${String(r.ideal_per_s).padStart(7)}  ${(r.fraction_of_ideal * 100).toFixed(1).padStart(7)}%  ${r.cpu_ms_per_record.toFixed(3).padStart(13)}  ${r.retained_heap_mb.toFixed(1).padStart(16)}  ${r.peak_rss_mb.toFixed(1).padStart(11)}  ${r.load_avg_1m.toFixed(2).padStart(4)}`,
    );
  }
}

if (isMainThread) await main();
else await serverThread((workerData as { delayMs: number }).delayMs);
