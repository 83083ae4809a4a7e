// Serving benchmarks: time to first token and decode tokens/s through HTTP (the openai SDK streaming from
// `llava serve` on loopback) against the same prompt by direct library calls (model.generate), and aggregate decode
// tokens/s of 1, 4 and 8 concurrent streams sharing the continuous batch.
import OpenAI from 'openai';
import { BatchEngine } from '../src/serve/engine.js';
import { startServer } from '../src/serve/server.js';
import { report, type Row } from './report.js';
import { benchModel, percentile } from './serve_model.js';

const TOKENS = 48;
const REPS = 5;
const bench = benchModel();
const { model, processor } = bench;
const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 8 });
const server = await startServer({ modelId: 'bench', engine, processor, limits: { maxImages: 1 } }, { port: 0 });
const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
const question = 'Describe the picture in detail, please.';

/** Direct: model.generate on the processor's inputs; TTFT = call to first step, decode = steps after it. */
async function direct(): Promise<{ ttft: number; decode: number }> {
  const t0 = performance.now();
  const inputs = await processor.process({ messages: [{ role: 'user', content: question }] });
  const times: number[] = [];
  await model.generate({
    ...inputs,
    maxNewTokens: TOKENS,
    eosTokenId: null,
    onStep: () => times.push(performance.now()),
  });
  return { ttft: times[0]! - t0, decode: (times.length - 1) / ((times.at(-1)! - times[0]!) / 1e3) };
}

/** One streamed HTTP request: chunk arrival times (one content chunk per settled piece). */
async function stream(): Promise<number[]> {
  const times: number[] = [performance.now()];
  const s = await client.chat.completions.create({
    model: 'bench',
    messages: [{ role: 'user', content: question }],
    temperature: 0,
    max_tokens: TOKENS,
    stream: true,
  });
  for await (const c of s) if (c.choices[0]?.delta.content) times.push(performance.now());
  return times;
}

async function http(): Promise<{ ttft: number; decode: number }> {
  const t = await stream();
  return { ttft: t[1]! - t[0]!, decode: (t.length - 2) / ((t.at(-1)! - t[1]!) / 1e3) };
}

const median = (xs: number[]) => percentile(xs, 50);
// Direct and HTTP runs alternate, so that load from other processes on a shared machine falls on both alike.
await direct();
await http();
const directRuns = [];
const httpRuns = [];
for (let i = 0; i < REPS; i++) {
  directRuns.push(await direct());
  httpRuns.push(await http());
}
const d = { ttft: median(directRuns.map((o) => o.ttft)), decode: median(directRuns.map((o) => o.decode)) };
const h = { ttft: median(httpRuns.map((o) => o.ttft)), decode: median(httpRuns.map((o) => o.decode)) };

/** k concurrent streams: tokens per second once all have started, until all have finished. */
async function aggregate(k: number): Promise<number> {
  const all = await Promise.all(Array.from({ length: k }, () => stream()));
  const start = Math.max(...all.map((t) => t[1]!));
  const end = Math.max(...all.map((t) => t.at(-1)!));
  const tokens = all.reduce((n, t) => n + t.filter((x) => x > start).length, 0);
  return tokens / ((end - start) / 1e3);
}
const agg: Record<number, number> = {};
for (const k of [1, 4, 8]) {
  await aggregate(k);
  agg[k] = median([await aggregate(k), await aggregate(k), await aggregate(k)]);
}
await server.close();
engine.close();
bench.remove();

const rows: Row[] = [
  {
    bench: 'serve',
    metric: 'time to first token, HTTP stream',
    unit: 'ms',
    ours: h.ttft,
    anchor: d.ttft,
    anchorName: 'direct generate',
    higherIsBetter: false,
    note: 'target overhead ≤ 5%',
  },
  {
    bench: 'serve',
    metric: 'decode, HTTP stream',
    unit: 'tokens/s',
    ours: h.decode,
    anchor: d.decode,
    anchorName: 'direct generate',
    higherIsBetter: true,
    note: 'target ≥ 0.95×',
  },
  { bench: 'serve', metric: 'aggregate decode, 1 stream', unit: 'tokens/s', ours: agg[1]!, higherIsBetter: true },
  {
    bench: 'serve',
    metric: 'aggregate decode, 4 streams',
    unit: 'tokens/s',
    ours: agg[4]!,
    anchor: agg[1],
    anchorName: '1 stream',
    higherIsBetter: true,
  },
  {
    bench: 'serve',
    metric: 'aggregate decode, 8 streams',
    unit: 'tokens/s',
    ours: agg[8]!,
    anchor: agg[1],
    anchorName: '1 stream',
    higherIsBetter: true,
    note: 'target ≥ 4× one stream',
  },
];
report(rows);
