// Serving benchmarks: time to first token and decode tokens/s through HTTP (the openai SDK streaming from
// `llava serve` on loopback) against the same prompt by direct library calls (model.generate), and aggregate decode
// tokens/s of 1, 4 and 8 concurrent streams sharing the continuous batch. The server runs in its own process.
import OpenAI from 'openai';
import { TextStream } from '../src/serve/text-stream.js';
import { report, type Row } from './report.js';
import { benchModel, percentile, serveProcess } from './serve_model.js';

const TOKENS = 48;
const REPS = 15;
const bench = benchModel();
const { model, processor } = bench;
const server = await serveProcess(bench.dir, ['--max-batch', '8']);
const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
const question = 'Describe the picture in detail, please.';

/**
 * Direct: model.generate on the processor's inputs. TTFT is measured as through HTTP, to the first step whose token
 * adds text (a lone byte piece or space adds none yet); decode rate over the steps after the first.
 */
async function direct(): Promise<{ ttft: number; decode: number }> {
  const t0 = performance.now();
  const inputs = await processor.process({ messages: [{ role: 'user', content: question }] });
  const times: number[] = [];
  const text = new TextStream(processor.tokenizer);
  let firstText: number | undefined;
  await model.generate({
    ...inputs,
    maxNewTokens: TOKENS,
    eosTokenId: null,
    onStep: ({ tokens }) => {
      times.push(performance.now());
      if (text.push(tokens[0]!) !== '') firstText ??= times.at(-1);
    },
  });
  return { ttft: firstText! - t0, decode: (times.length - 1) / ((times.at(-1)! - times[0]!) / 1e3) };
}

/** One streamed HTTP request: send time, arrival times of the chunks with text, and its completion tokens. */
async function stream(): Promise<{ times: number[]; tokens: number }> {
  const times: number[] = [performance.now()];
  const s = await client.chat.completions.create({
    model: 'bench',
    messages: [{ role: 'user', content: question }],
    temperature: 0,
    max_tokens: TOKENS,
    stream: true,
    stream_options: { include_usage: true },
  });
  let tokens = 0;
  for await (const c of s) {
    if (c.choices[0]?.delta.content) times.push(performance.now());
    if (c.usage) tokens = c.usage.completion_tokens;
  }
  return { times, tokens };
}

async function http(): Promise<{ ttft: number; decode: number }> {
  const { times: t, tokens } = await stream();
  return { ttft: t[1]! - t[0]!, decode: (tokens - 1) / ((t.at(-1)! - t[1]!) / 1e3) };
}

const median = (xs: number[]) => percentile(xs, 50);
// Direct and HTTP runs alternate, so that load from other processes on a shared machine falls on both alike.
await direct();
await http();
const directRuns = [];
const httpRuns = [];
// A pause before each run: the other process's OpenMP threads, which spin for a while after their last parallel
// region, park first instead of taking a core from the run being timed.
const settle = () => (globalThis.gc?.(), new Promise((r) => setTimeout(r, 100)));
for (let i = 0; i < REPS; i++) {
  await settle();
  directRuns.push(await direct());
  await settle();
  httpRuns.push(await http());
}
const d = { ttft: median(directRuns.map((o) => o.ttft)), decode: median(directRuns.map((o) => o.decode)) };
const h = { ttft: median(httpRuns.map((o) => o.ttft)), decode: median(httpRuns.map((o) => o.decode)) };

/** k concurrent streams: their completion tokens over the wall time from sending to the last chunk. */
async function aggregate(k: number): Promise<number> {
  const t0 = performance.now();
  const all = await Promise.all(Array.from({ length: k }, () => stream()));
  return all.reduce((n, r) => n + r.tokens, 0) / ((performance.now() - t0) / 1e3);
}
const agg: Record<number, number> = {};
for (const k of [1, 4, 8]) {
  await aggregate(k);
  agg[k] = median([await aggregate(k), await aggregate(k), await aggregate(k)]);
}
await server.stop();
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
