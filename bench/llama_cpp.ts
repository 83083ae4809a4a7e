// Prefill and decode beside llama.cpp (issue 13), on the serving benchmarks' LLaMA (8 x 512, vocab 32000, fp32):
// the model is written as GGUF (bench/gguf.ts) and run by llama.cpp through node-llama-cpp's CPU build, installed
// in bench/llama-cpp by `scripts/setup.sh --bench`, on the same number of threads. Prompts of 64 and 640 random
// token ids prefilled into an empty KV cache (ours as the server prefills: into the cache, logits of the last
// position only), then greedy decode steps from the 64-token prompt, whose tokens must be the same in both.
// Ours and llama.cpp alternate, ROUNDS rounds, medians of each, so load from other jobs falls on both alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as T from '../src/torch/index.js';
import { KVCache, LlamaForCausalLM, llamaConfig } from '../src/models/index.js';
import { runtimeReport } from '../src/torch/runtime.js';
import { writeGguf } from './gguf.js';
import { timedGreedy } from './greedy.js';
import { median, medianGap, report, type Row } from './report.js';
import { LLAMA_8X512 } from './shapes.js';

const ROUNDS = 5;
const PER_ROUND = 3;
const PROMPTS = [64, 640];
const DECODE_STEPS = 32;

// The parts of node-llama-cpp's API used here.
type Sequence = {
  clearHistory(): Promise<void>;
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  evaluate(tokens: number[], options: { temperature: number }): AsyncGenerator<number>;
};
type NodeLlamaCpp = {
  getLlama(o: object): Promise<{
    loadModel(o: object): Promise<{
      createContext(o: object): Promise<{ getSequence(): Sequence }>;
      dispose(): Promise<void>;
    }>;
    dispose(): Promise<void>;
  }>;
};

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const entry = join(here, '../../bench/llama-cpp/node_modules/node-llama-cpp/dist/index.js');
const nodeLlamaCpp = (await import(pathToFileURL(entry).href).catch((e) => {
  throw new Error(`bench/llama_cpp: node-llama-cpp is not installed (${entry}): run scripts/setup.sh --bench (${e})`);
})) as NodeLlamaCpp;

const threads = runtimeReport().threads;

T.manualSeed(0);
const config = llamaConfig(LLAMA_8X512);
const lm = new LlamaForCausalLM(config);
const dir = mkdtempSync(join(tmpdir(), 'llava-bench-gguf-'));
const ggufPath = join(dir, 'llama-8x512-f32.gguf');
writeGguf(lm, ggufPath);

const llama = await nodeLlamaCpp.getLlama({ gpu: false, build: 'never', maxThreads: threads, logLevel: 'error' });
const model = await llama.loadModel({ modelPath: ggufPath });
// One batch holds the longest prompt, as our prefill takes it in one forward.
const context = await model.createContext({
  contextSize: 1024,
  batchSize: 1024,
  threads: { ideal: threads, min: threads },
});
const sequence = context.getSequence();

T.manualSeed(1);
const prompts = new Map(PROMPTS.map((n) => [n, Array.from(T.randint(3, 31000, [n]).toTypedArray(), Number)]));
const asIds = (ids: number[]) => T.tensor(BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);

function oursPrefillMs(ids: number[]): number {
  const input = asIds(ids);
  const { num_hidden_layers, num_key_value_heads, hidden_size, num_attention_heads } = config;
  const shape = { batch: 1, kvHeads: num_key_value_heads, headDim: hidden_size / num_attention_heads };
  const cache = new KVCache(num_hidden_layers, ids.length + 1, shape, 'float32');
  const t0 = performance.now();
  T.noGrad(() => T.scope(() => lm.forward({ inputIds: input, cache, logitsToKeep: 1 }).logits.argmax(-1).item()));
  const ms = performance.now() - t0;
  cache.dispose();
  input.dispose();
  return ms;
}

async function llamaPrefillMs(ids: number[]): Promise<number> {
  await sequence.clearHistory();
  const t0 = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(ids);
  return performance.now() - t0;
}

/** Median time between greedy tokens, and the tokens, after the 64-token prompt. */
async function oursDecode(): Promise<{ ms: number; tokens: number[] }> {
  const input = asIds(prompts.get(64)!);
  const { ms, tokens } = await timedGreedy(lm, input, DECODE_STEPS + 1);
  input.dispose();
  return { ms, tokens: tokens[0]! };
}

async function llamaDecode(): Promise<{ ms: number; tokens: number[] }> {
  await sequence.clearHistory();
  const times: number[] = [];
  const tokens: number[] = [];
  for await (const token of sequence.evaluate(prompts.get(64)!, { temperature: 0 })) {
    times.push(performance.now());
    tokens.push(token);
    if (tokens.length === DECODE_STEPS + 1) break;
  }
  return { ms: medianGap(times), tokens };
}

const runs = new Map<string, number[]>();
const record = (key: string, ms: number) => runs.set(key, [...(runs.get(key) ?? []), ms]);
let sameTokens = true;
for (let round = -1; round < ROUNDS; round++) {
  // round -1 warms both up and is not counted
  for (const n of PROMPTS) {
    const ids = prompts.get(n)!;
    for (let i = 0; i < PER_ROUND; i++) {
      const ours = oursPrefillMs(ids);
      const theirs = await llamaPrefillMs(ids);
      if (round >= 0) (record(`ours ${n}`, ours), record(`llama ${n}`, theirs));
    }
  }
  const ours = await oursDecode();
  const theirs = await llamaDecode();
  sameTokens &&= ours.tokens.join() === theirs.tokens.join();
  if (round >= 0) (record('ours decode', ours.ms), record('llama decode', theirs.ms));
}
await model.dispose();
await llama.dispose();
rmSync(dir, { recursive: true, force: true });

const ms = (key: string) => median(runs.get(key)!);
const anchorName = `llama.cpp (node-llama-cpp 3.21.1), ${threads} threads`;
const rows: Row[] = [
  ...PROMPTS.map((n): Row => ({
    bench: 'llama_cpp',
    metric: `prefill of ${n} tokens, tokens/s`,
    unit: 'tokens/s',
    ours: (n * 1000) / ms(`ours ${n}`),
    anchor: (n * 1000) / ms(`llama ${n}`),
    anchorName,
    higherIsBetter: true,
    note: `${ms(`ours ${n}`).toFixed(1)} / ${ms(`llama ${n}`).toFixed(1)} ms; target ≥ 1.0×`,
  })),
  {
    bench: 'llama_cpp',
    metric: 'greedy decode after a 64-token prompt, tokens/s',
    unit: 'tokens/s',
    ours: 1000 / ms('ours decode'),
    anchor: 1000 / ms('llama decode'),
    anchorName,
    higherIsBetter: true,
    note: `the same ${DECODE_STEPS + 1} greedy tokens in both: ${sameTokens ? 'yes' : 'NO'}`,
  },
];
report(rows);
if (!sameTokens) process.exitCode = 1;
