// The endpoint options shared by `llava eval judge` and `llava eval reference` (the data engine's
// client: any OpenAI-compatible server), and Ctrl-C handling for their runs.

import { DEFAULT_PRICES, loadPrices, type ClientOptions, type PriceTable } from '../../datagen/index.js';
import { intOption, numberOption, UsageError, type OptionSpec, type ParsedOptions } from './args.js';

export const ENDPOINT_HELP = `endpoint:
  --model NAME             model name sent with each request (required)
  --base-url URL           OpenAI-compatible API base (env OPENAI_BASE_URL)
  --api-key KEY            (env OPENAI_API_KEY; not needed for a --base-url without auth)
  --temperature T          default 0.2, as the reference's judge
  --max-tokens N           default 1024, as the reference's judge
  --concurrency N          requests in flight (default 4)
  --timeout S              seconds per request (default 120)
  --max-retries N          retries of 429/5xx/timeouts/drops/malformed replies (default 8)
  --cache DIR              response cache (default: OUTPUT.cache); --no-cache to disable
  --prices FILE            JSON {model: {input, output}} in USD per 1M tokens
  --no-progress            no progress line on stderr`;

export const ENDPOINT_OPTIONS: Record<string, OptionSpec> = {
  model: { kind: 'string' },
  'base-url': { kind: 'string' },
  'api-key': { kind: 'string' },
  temperature: { kind: 'string' },
  'max-tokens': { kind: 'string' },
  concurrency: { kind: 'string' },
  timeout: { kind: 'string' },
  'max-retries': { kind: 'string' },
  cache: { kind: 'string' },
  'no-cache': { kind: 'boolean' },
  prices: { kind: 'string' },
  'no-progress': { kind: 'boolean' },
};

export interface Endpoint {
  client: ClientOptions;
  concurrency: number;
  cacheDir: string | null;
  prices: PriceTable;
  progress: NodeJS.WriteStream | null;
}

export async function endpointFrom(o: ParsedOptions, output: string): Promise<Endpoint> {
  const s = (name: string) => o[name] as string | undefined;
  if (!s('model')) throw new UsageError('--model is required');
  if (s('cache') && o['no-cache']) throw new UsageError('--cache and --no-cache contradict each other');
  const baseURL = s('base-url') ?? process.env.OPENAI_BASE_URL;
  if (baseURL !== undefined && !/^https?:\/\/[^/]/.test(baseURL))
    throw new UsageError(`--base-url must be an http:// or https:// URL, got '${baseURL}'`);
  const apiKey = s('api-key') ?? process.env.OPENAI_API_KEY ?? (baseURL ? 'none' : undefined);
  if (apiKey === undefined) throw new UsageError('no API key: pass --api-key or set OPENAI_API_KEY');
  return {
    client: {
      baseURL,
      apiKey,
      model: s('model')!,
      temperature: numberOption('temperature', s('temperature'), 0) ?? 0.2,
      maxTokens: numberOption('max-tokens', s('max-tokens'), 1) ?? 1024,
      timeoutMs: (numberOption('timeout', s('timeout'), 0.001) ?? 120) * 1000,
      maxRetries: intOption('max-retries', s('max-retries'), 8, 0),
    },
    concurrency: intOption('concurrency', s('concurrency'), 4),
    cacheDir: o['no-cache'] ? null : (s('cache') ?? `${output}.cache`),
    prices: s('prices') ? await loadPrices(s('prices')!) : DEFAULT_PRICES,
    progress: o['no-progress'] ? null : process.stderr,
  };
}

/** Runs `body` with an abort signal that the first Ctrl-C (or SIGTERM) fires; a second one exits. */
export async function withInterrupt<T>(command: string, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`${command}: interrupted; finishing up (Ctrl-C again to quit at once)\n`);
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
