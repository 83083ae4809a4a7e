// `llava datagen`: GPT-assisted instruction data from captions and boxes against any
// OpenAI-compatible chat endpoint. Imports only src/datagen (no tensors, no native addon).

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_BACKOFF,
  DEFAULT_PRICES,
  DEFAULT_PROMPTS_DIR,
  DETAIL_INSTRUCTIONS,
  DATAGEN_PLACEMENTS,
  formatSummary,
  isPromptType,
  loadInstructions,
  loadPrices,
  loadPromptSet,
  PROMPT_TYPES,
  readCapsBoxesJsonl,
  readCoco,
  runDatagen,
  type DatagenPlacement,
  type PromptType,
} from '../datagen/index.js';

const HELP = `usage: llava datagen (--input FILE.jsonl | --coco-captions FILE --coco-instances FILE) --out DIR --model NAME [options]

Writes LLaVA instruction records (DIR/<type>.jsonl), rejected replies with their reason
(DIR/rejects.jsonl), failed requests (DIR/failures.jsonl), every HTTP attempt (DIR/ledger.jsonl)
and DIR/summary.json: this run's figures and the totals of every run on DIR, killed ones included.
Interrupted runs (crash, kill, Ctrl-C) continue where they stopped when the same command is run
again; one run writes to a DIR at a time.

input:
  --input FILE              caps/boxes JSONL: {id, image, captions[], instances[{category, bbox}]}
  --coco-captions FILE      COCO captions_*.json (with --coco-instances instances_*.json)
  --coco-instances FILE
  --limit N                 only the first N images
prompts:
  --types LIST              comma-separated: conversation,detail_description,complex_reasoning (default: all)
  --prompts DIR             folder with one sub-folder per type in the reference layout
                            (system_message.txt, NNN_caps.txt, NNN_conv.txt); default: the project's own
  --instructions FILE       detailed-description instructions, one per line (default: the paper's 16)
  --image-placement P       first: "<image>\\n<question>"; random: that or "<question>\\n<image>", seeded
                            per record (the training data option; default: first)
  --seed N                  seed of the drawn instructions and random placement (default: 0)
endpoint:
  --base-url URL            OpenAI-compatible API base, e.g. http://localhost:8000/v1 (env OPENAI_BASE_URL)
  --api-key KEY             (env OPENAI_API_KEY; not needed for a --base-url without auth)
  --model NAME              model name sent with each request (required)
  --temperature T           sampling temperature (default: the server's)
  --max-tokens N            reply length limit (default: the server's)
  --concurrency N           requests in flight (default: 8)
  --timeout S               seconds per request, headers and body (default: 120)
  --max-retries N           retries of 429/5xx/timeouts/dropped connections per request (default: 8)
  --backoff-base S          first retry waits up to S seconds, doubling per retry (full jitter; default: 1)
  --backoff-cap S           longest back-off wait in seconds (default: 60); a Retry-After header overrides both
  --max-consecutive-failures N  stop after N failed requests in a row (default: 50)
accounting:
  --cache CACHE             response cache, one log file CACHE/responses.log (default: DIR/cache);
                            --no-cache to disable
  --prices FILE             JSON {model: {input, output}} in USD per 1M tokens, added to the built-in table
  --no-progress             no progress line on stderr
`;

function positiveInt(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
  return n;
}

function optionalNumber(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min)
    throw new Error(`--${name} must be a number >= ${min}, got '${text}'`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      input: { type: 'string' },
      'coco-captions': { type: 'string' },
      'coco-instances': { type: 'string' },
      limit: { type: 'string' },
      out: { type: 'string' },
      types: { type: 'string' },
      prompts: { type: 'string' },
      instructions: { type: 'string' },
      'image-placement': { type: 'string' },
      seed: { type: 'string' },
      'base-url': { type: 'string' },
      'api-key': { type: 'string' },
      model: { type: 'string' },
      temperature: { type: 'string' },
      'max-tokens': { type: 'string' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      'max-retries': { type: 'string' },
      'backoff-base': { type: 'string' },
      'backoff-cap': { type: 'string' },
      'max-consecutive-failures': { type: 'string' },
      cache: { type: 'string' },
      'no-cache': { type: 'boolean' },
      prices: { type: 'string' },
      'no-progress': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const usage = (message: string) => {
    console.error(`llava datagen: ${message}\nrun 'llava datagen --help' for the options`);
    return 2;
  };
  if (!v.out) return usage('--out DIR is required');
  if (!v.model) return usage('--model NAME is required');
  if (v.input && (v['coco-captions'] || v['coco-instances']))
    return usage('give either --input or --coco-captions/--coco-instances, not both');
  if (!v.input && !(v['coco-captions'] && v['coco-instances']))
    return usage('an input is required: --input FILE.jsonl, or --coco-captions FILE with --coco-instances FILE');
  if (v.cache && v['no-cache']) return usage('--cache and --no-cache contradict each other');

  const types = (v.types ?? PROMPT_TYPES.join(',')).split(',').map((t) => t.trim());
  const unknown = types.filter((t) => !isPromptType(t));
  if (unknown.length > 0 || types.length === 0)
    return usage(`--types: unknown type(s) ${unknown.join(', ')}; choose from ${PROMPT_TYPES.join(', ')}`);
  const placement = v['image-placement'] ?? 'first';
  if (!(DATAGEN_PLACEMENTS as readonly string[]).includes(placement))
    return usage(`--image-placement must be first or random, got '${placement}'`);

  const baseURL = v['base-url'] ?? process.env.OPENAI_BASE_URL;
  if (baseURL !== undefined && !/^https?:\/\/[^/]/.test(baseURL))
    return usage(`--base-url must be an http:// or https:// URL, got '${baseURL}'`);
  const apiKey = v['api-key'] ?? process.env.OPENAI_API_KEY ?? (baseURL ? 'none' : undefined);
  if (apiKey === undefined)
    return usage('no API key: pass --api-key or set OPENAI_API_KEY (or point --base-url at a server without auth)');

  // Every flag is checked before the (possibly large) input is read.
  let client, concurrency, seed, maxConsecutiveFailures, limit;
  try {
    const baseS = optionalNumber('backoff-base', v['backoff-base'], 0.001) ?? DEFAULT_BACKOFF.baseMs / 1000;
    const capS =
      optionalNumber('backoff-cap', v['backoff-cap'], 0.001) ?? Math.max(baseS, DEFAULT_BACKOFF.capMs / 1000);
    if (capS < baseS) throw new Error(`--backoff-cap (${capS}) must be at least --backoff-base (${baseS})`);
    client = {
      baseURL,
      apiKey,
      model: v.model,
      temperature: optionalNumber('temperature', v.temperature, 0),
      maxTokens: optionalNumber('max-tokens', v['max-tokens'], 1),
      timeoutMs: (optionalNumber('timeout', v.timeout, 0.001) ?? 120) * 1000,
      maxRetries: positiveInt('max-retries', v['max-retries'], 8, 0),
      backoff: { ...DEFAULT_BACKOFF, baseMs: baseS * 1000, capMs: capS * 1000 },
    };
    concurrency = positiveInt('concurrency', v.concurrency, 8);
    seed = positiveInt('seed', v.seed, 0, 0);
    maxConsecutiveFailures = positiveInt('max-consecutive-failures', v['max-consecutive-failures'], 50);
    limit = positiveInt('limit', v.limit, Infinity, 0);
  } catch (err) {
    return usage((err as Error).message);
  }
  const prices = v.prices ? await loadPrices(v.prices) : DEFAULT_PRICES;
  const instructions = v.instructions ? await loadInstructions(v.instructions) : DETAIL_INSTRUCTIONS;
  const prompts = await Promise.all(
    [...new Set(types)].map((t) => loadPromptSet(v.prompts ?? DEFAULT_PROMPTS_DIR, t as PromptType)),
  );
  const contexts = v.input
    ? await readCapsBoxesJsonl(v.input)
    : await readCoco(v['coco-captions']!, v['coco-instances']!);

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130); // second Ctrl-C: leave now, done work is on disk
    process.stderr.write('\nllava datagen: interrupted; finishing up (Ctrl-C again to quit at once)\n');
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const summary = await runDatagen({
      contexts: contexts.slice(0, limit),
      prompts,
      instructions,
      outDir: v.out,
      client,
      concurrency,
      seed,
      placement: placement as DatagenPlacement,
      cacheDir: v['no-cache'] ? null : (v.cache ?? join(v.out, 'cache')),
      prices,
      maxConsecutiveFailures,
      progress: v['no-progress'] ? null : process.stderr,
      signal: controller.signal,
      warn: (message) => process.stderr.write(`llava datagen: ${message}\n`),
    });
    console.log(formatSummary(summary));
    if (summary.stopped === 'interrupted') return 130;
    return summary.stopped !== null || summary.unfinished > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
