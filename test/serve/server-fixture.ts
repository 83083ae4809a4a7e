// The server tests' shared setup: a small random checkpoint saved and reloaded, a server on loopback with the
// openai SDK pointed at it, and expected replies from model.generate called directly on the same prompt (greedy),
// not from the server's own code. close() ends the servers and engines and removes the folder.
import OpenAI from 'openai';
import { LlavaForConditionalGeneration } from '../../src/models/llava.js';
import { LlavaProcessor } from '../../src/serve/processor.js';
import { BatchEngine, type EngineOptions, type EngineResult } from '../../src/serve/engine.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import type { ServeContext } from '../../src/serve/chat-job.js';
import type { ChatMessage } from '../../src/text/chat-template.js';
import { coordinates, rawImage } from '../helpers/text-images.js';
import { ids } from '../helpers/golden.js';
import { tempDir, writeSmallLlava } from './helpers.js';

export const MODEL = 'tiny-llava';

export interface Fixture {
  model: LlavaForConditionalGeneration;
  processor: LlavaProcessor;
  /** A server on a fresh engine (closed by close()). */
  serve(
    engineOptions?: EngineOptions,
    options?: Parameters<typeof startServer>[1],
  ): Promise<RunningServer & { ctx: ServeContext }>;
  main: RunningServer;
  openai: OpenAI;
  png: Buffer;
  dataUrl: string;
  close(): Promise<void>;
}

/** Built when a test file's before() asks (nothing runs at import: the test runner also runs this file alone). */
export async function serverFixture(): Promise<Fixture> {
  const temp = tempDir('llava-serve-');
  writeSmallLlava(temp.dir);
  const model = LlavaForConditionalGeneration.fromPretrained(temp.dir);
  model.eval();
  const processor = LlavaProcessor.fromPretrained(temp.dir, { maxPixels: 1_000_000 });
  const servers: RunningServer[] = [];
  const engines: BatchEngine[] = [];
  const serve = async (engineOptions: EngineOptions = {}, options: Parameters<typeof startServer>[1] = {}) => {
    const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 4, ...engineOptions });
    engines.push(engine);
    const ctx: ServeContext = { modelId: MODEL, engine, processor, limits: { maxImages: 2 } };
    const s = await startServer(ctx, { port: 0, maxBodyBytes: 1_000_000, ...options });
    servers.push(s);
    return { ...s, ctx };
  };
  const main = await serve();
  const png = await rawImage(coordinates(24, 20), 24, 20, 3).png().toBuffer();
  return {
    model,
    processor,
    serve,
    main,
    openai: new OpenAI({ baseURL: `${main.url}/v1`, apiKey: 'unused', maxRetries: 0 }),
    png,
    dataUrl: `data:image/png;base64,${png.toString('base64')}`,
    close: async () => {
      for (const s of servers) await s.close();
      for (const e of engines) e.close();
      temp.remove();
    },
  };
}

/** model.generate on the processor's prompt for these messages: the greedy reply and its token counts. */
export async function expected(
  { model, processor }: Pick<Fixture, 'model' | 'processor'>,
  messages: ChatMessage[],
  images: Buffer[],
  maxNewTokens: number,
) {
  const inputs = await processor.process({ messages, images });
  const L = inputs.inputIds.size(1);
  const seq = await model.generate({ ...inputs, maxNewTokens });
  let tokens = ids(seq.narrow(1, L, seq.size(1) - L));
  const eos = tokens.indexOf(2);
  if (eos >= 0) tokens = tokens.slice(0, eos + 1);
  return {
    text: processor.tokenizer.decode(tokens, { skipSpecialTokens: true }),
    completion: tokens.length,
    finish: eos >= 0 ? 'stop' : 'length',
    prompt: L,
  };
}

export const imageQuestion = (question: string): ChatMessage[] => [
  { role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] },
];

/** A raw POST; resolves to the status, headers and parsed JSON body. */
export async function post(url: string, body: string | object) {
  const res = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, json: (await res.json()) as { error: Record<string, unknown> } };
}

/** Records every engine result of a context, so a test can see how a generation ended. */
export function recordResults(ctx: ServeContext): Promise<EngineResult>[] {
  const results: Promise<EngineResult>[] = [];
  const submit = ctx.engine.submit.bind(ctx.engine);
  ctx.engine.submit = (r) => {
    const p = submit(r);
    p.catch(() => {}); // refusals (429) are the server's to answer; only how accepted ones end is looked at
    results.push(p);
    return p;
  };
  return results;
}
