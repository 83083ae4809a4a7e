// Shared by the run tests: the 80 reference records and prompts, loopback servers closed when the
// test file ends, and the options of a test run (fast back-off, small timeouts).

import { join } from 'node:path';
import { after } from 'node:test';
import {
  DEFAULT_PRICES,
  DETAIL_INSTRUCTIONS,
  loadPromptSet,
  PROMPT_TYPES,
  readCapsBoxesJsonl,
  type DatagenOptions,
} from '../../src/datagen/index.js';
import { queryOf, startFakeServer, type ChatRequest, type FakeServer, type Script } from './fake-server.js';
import { CAPS_BOXES_80, REFERENCE_PROMPTS } from './paths.js';

export const contexts = await readCapsBoxesJsonl(CAPS_BOXES_80);
export const prompts = await Promise.all(PROMPT_TYPES.map((t) => loadPromptSet(REFERENCE_PROMPTS, t)));

const servers: FakeServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

/** A fake server on 127.0.0.1, closed when the test file ends. */
export async function serve(script: Script): Promise<FakeServer> {
  const server = await startFakeServer(script);
  servers.push(server);
  return server;
}

/** Index of the image a request is about (every first caption of the 80 records is distinct). */
export function imageOf(request: ChatRequest): number {
  const first = queryOf(request).split('\n')[0];
  return contexts.findIndex((c) => c.captions[0] === first);
}

/** A run over the 80 records against `server`, writing to `outDir` (cache in it), with `overrides`. */
export function options(server: FakeServer, outDir: string, overrides: Partial<DatagenOptions> = {}): DatagenOptions {
  return {
    contexts,
    prompts,
    instructions: DETAIL_INSTRUCTIONS,
    outDir,
    client: {
      baseURL: server.baseURL,
      apiKey: 'test',
      model: 'gpt-4o-mini',
      timeoutMs: 2000,
      maxRetries: 1,
      backoff: { baseMs: 1, capMs: 5, maxRetryAfterMs: 100 },
    },
    concurrency: 8,
    seed: 0,
    placement: 'first',
    cacheDir: join(outDir, 'cache'),
    prices: DEFAULT_PRICES,
    maxConsecutiveFailures: 50,
    progress: null,
    ...overrides,
  };
}
