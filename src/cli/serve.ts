// `llava serve`: one model behind the OpenAI Chat Completions and Ollama APIs, with continuous batching and a web
// chat page, until Ctrl-C.
import { parseArgs } from 'node:util';
import { BatchEngine } from '../serve/engine.js';
import { loadModelDir } from '../serve/load-model.js';
import { startServer } from '../serve/server.js';
import { isDType, type DType } from '../torch/index.js';

const HELP = `usage: llava serve --model DIR [options]

Serves the checkpoint in DIR (llava-hf or original LLaVA layout, with its tokenizer) at:
  POST /v1/chat/completions, GET /v1/models      OpenAI (official SDKs work unchanged)
  POST /api/chat, POST /api/generate, GET /api/tags   Ollama
  GET /                                          web chat page
  GET /health

options:
  --host HOST               address to listen on (default 127.0.0.1)
  --port N                  (default 8000)
  --name NAME               model id the APIs answer to (default: the folder's name)
  --dtype D                 compute dtype: float32, bfloat16, float16, auto (default float32)
  --conv-template NAME      a reference conversation template instead of the checkpoint's chat template
  --vision-tower DIR        original LLaVA layout: the CLIP folder when mm_vision_tower does not resolve
  --max-batch N             requests decoding together (default 8)
  --max-queue N             requests waiting for a slot before 429 (default 64)
  --context N               positions per request, prompt and reply (default: max_position_embeddings);
                            the KV cache holds max-batch x context positions (printed at start)
  --max-images N            images per request (default 4)
  --max-image-pixels N      decoded image size limit (default 40000000)
  --max-body-bytes N        request body limit (default 20971520)
  --allow-remote-images     fetch http(s) image URLs (public addresses only)
  --remote-image-bytes N    size limit of a fetched image (default 10485760)
  --remote-image-timeout-ms N  (default 10000)
`;

function int(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      name: { type: 'string' },
      dtype: { type: 'string' },
      'conv-template': { type: 'string' },
      'vision-tower': { type: 'string' },
      'max-batch': { type: 'string' },
      'max-queue': { type: 'string' },
      context: { type: 'string' },
      'max-images': { type: 'string' },
      'max-image-pixels': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'allow-remote-images': { type: 'boolean' },
      'remote-image-bytes': { type: 'string' },
      'remote-image-timeout-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (!v.model) {
    console.error(`llava serve: --model DIR is required\n\n${HELP}`);
    return 2;
  }
  const dtype = v.dtype ?? 'float32';
  if (dtype !== 'auto' && !isDType(dtype)) throw new Error(`--dtype '${dtype}' is not a dtype`);
  const options = {
    port: int('port', v.port, 8000, 0),
    maxBatch: int('max-batch', v['max-batch'], 8),
    maxQueue: int('max-queue', v['max-queue'], 64, 0),
    maxImages: int('max-images', v['max-images'], 4, 0),
    maxPixels: int('max-image-pixels', v['max-image-pixels'], 40_000_000),
    maxBodyBytes: int('max-body-bytes', v['max-body-bytes'], 20 * 2 ** 20),
    remoteBytes: int('remote-image-bytes', v['remote-image-bytes'], 10 * 2 ** 20),
    remoteTimeout: int('remote-image-timeout-ms', v['remote-image-timeout-ms'], 10_000),
  };
  const loaded = loadModelDir(v.model, {
    dtype: dtype as DType | 'auto',
    maxPixels: options.maxPixels,
    conversationTemplate: v['conv-template'],
    visionTower: v['vision-tower'],
  });
  const engine = new BatchEngine(loaded.model, loaded.processor.tokenizer, {
    maxBatch: options.maxBatch,
    maxQueue: options.maxQueue,
    contextLength: v.context === undefined ? undefined : int('context', v.context, 0),
  });
  const server = await startServer(
    { modelId: v.name ?? loaded.name, engine, processor: loaded.processor, limits: { maxImages: options.maxImages } },
    {
      host: v.host,
      port: options.port,
      maxBodyBytes: options.maxBodyBytes,
      remoteImages: {
        allow: v['allow-remote-images'] ?? false,
        maxBytes: options.remoteBytes,
        timeoutMs: options.remoteTimeout,
      },
      modelBytes: loaded.bytes,
    },
  );
  const cache = `${(engine.cacheBytes / 2 ** 30).toFixed(2)} GiB KV cache for ${engine.maxBatch} x ${engine.contextLength} positions`;
  console.log(`llava serve: ${v.name ?? loaded.name} at ${server.url} (web chat: ${server.url}/); ${cache}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  engine.close();
  return 0;
}
