// Bounded load test of `llava serve` on loopback: two rounds of 200 requests at concurrency 16 through the openai
// SDK (half streaming, a quarter with an image), against 8 decode slots and a queue of 4, so that some attempts are
// refused by design (429); a refused client waits Retry-After and tries again, as clients do. Passes when nothing
// else fails and memory after the second round is within 10% (or 32 MiB) of the first; prints latency p50/p95 from
// first attempt to answer, and the count of each outcome.
import OpenAI from 'openai';
import sharp from 'sharp';
import { BatchEngine } from '../src/serve/engine.js';
import { startServer } from '../src/serve/server.js';
import { report, type Row } from './report.js';
import { benchModel, percentile } from './serve_model.js';

const REQUESTS = 200;
const CONCURRENCY = 16;
const MAX_TOKENS = 4;
const bench = benchModel();
const engine = new BatchEngine(bench.model, bench.processor.tokenizer, { maxBatch: 8, maxQueue: 4 });
const server = await startServer(
  { modelId: 'bench', engine, processor: bench.processor, limits: { maxImages: 1 } },
  { port: 0 },
);
const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 80, b: 30 } } })
  .png()
  .toBuffer();
const imageUrl = `data:image/png;base64,${png.toString('base64')}`;

type Outcome = { ok: boolean; refusals: number; ms: number; error?: string };

async function one(i: number): Promise<Outcome> {
  const t0 = performance.now();
  const content =
    i % 4 === 0
      ? [
          { type: 'image_url' as const, image_url: { url: imageUrl } },
          { type: 'text' as const, text: `What is in image ${i}?` },
        ]
      : `Question number ${i}: say something.`;
  const request = {
    model: 'bench',
    messages: [{ role: 'user' as const, content }],
    max_tokens: MAX_TOKENS,
    temperature: 0.7,
    seed: i,
  };
  let refusals = 0;
  for (;;) {
    try {
      await attempt(i % 2 === 1, request);
      return { ok: true, refusals, ms: performance.now() - t0 };
    } catch (err) {
      if (!(err instanceof OpenAI.RateLimitError))
        return { ok: false, refusals, ms: performance.now() - t0, error: String(err) };
      refusals++;
      const wait = Number(err.headers?.get('retry-after') ?? 1);
      await new Promise((r) => setTimeout(r, wait * 1000));
    }
  }
}

async function attempt(stream: boolean, request: OpenAI.ChatCompletionCreateParamsNonStreaming): Promise<void> {
  if (!stream) {
    const r = await client.chat.completions.create(request);
    if (r.choices.length !== 1) throw new Error('no choice');
    return;
  }
  const s = await client.chat.completions.create({ ...request, stream: true });
  let done = false;
  for await (const c of s) if (c.choices[0]?.finish_reason) done = true;
  if (!done) throw new Error('stream ended without a finish_reason');
}

async function round(requests: number): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests) out.push(await one(next++));
    }),
  );
  return out;
}

const rss = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
};
await round(CONCURRENCY); // warm-up: allocator pools and V8 reach their steady state
const before = rss();
const first = await round(REQUESTS);
const afterFirst = rss();
const second = await round(REQUESTS);
const afterSecond = rss();
await server.close();
engine.close();
bench.remove();

const all = [...first, ...second];
const answered = all.filter((o) => o.ok).map((o) => o.ms);
const failures = all.filter((o) => !o.ok);
const growth = afterSecond - afterFirst;
const flat = growth <= Math.max(0.1 * afterFirst, 32 * 2 ** 20);
const MB = 2 ** 20;
const rows: Row[] = [
  {
    bench: 'serve_load',
    metric: 'latency p50 (answered)',
    unit: 'ms',
    ours: percentile(answered, 50),
    higherIsBetter: false,
  },
  {
    bench: 'serve_load',
    metric: 'latency p95 (answered)',
    unit: 'ms',
    ours: percentile(answered, 95),
    higherIsBetter: false,
  },
  {
    bench: 'serve_load',
    metric: 'answered',
    unit: 'requests',
    ours: answered.length,
    higherIsBetter: true,
    note: `of ${all.length}`,
  },
  {
    bench: 'serve_load',
    metric: 'attempts refused by design (429)',
    unit: 'attempts',
    ours: all.reduce((n, o) => n + o.refusals, 0),
    higherIsBetter: false,
  },
  {
    bench: 'serve_load',
    metric: 'other errors',
    unit: 'requests',
    ours: failures.length,
    higherIsBetter: false,
    note: 'must be 0',
  },
  {
    bench: 'serve_load',
    metric: 'RSS after round 1',
    unit: 'MiB',
    ours: afterFirst / MB,
    higherIsBetter: false,
    note: `before: ${(before / MB).toFixed(0)} MiB`,
  },
  {
    bench: 'serve_load',
    metric: 'RSS after round 2',
    unit: 'MiB',
    ours: afterSecond / MB,
    anchor: afterFirst / MB,
    anchorName: 'round 1',
    higherIsBetter: false,
    note: flat ? 'flat' : 'GREW',
  },
];
report(rows);
for (const f of failures.slice(0, 5)) console.error(`error: ${f.error}`);
process.exitCode = failures.length === 0 && flat ? 0 : 1;
