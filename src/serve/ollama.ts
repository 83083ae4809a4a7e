// Ollama's API (POST /api/chat, POST /api/generate, GET /api/tags) in its shapes, so Ollama's clients work unchanged:
// images as base64 strings, `options` for sampling, NDJSON streaming (the default) ending in a `done: true` object
// with token counts and durations in nanoseconds. Errors are {"error": message}.
import type { ServerResponse } from 'node:http';
import type { ChatMessage } from '../text/chat-template.js';
import { ApiError, invalid } from './api-error.js';
import { prepareJob, runJob, type ChatJob, type ServeContext } from './chat-job.js';
import { numberField, object, sendJson, stopField } from './http.js';
import type { EngineResult } from './engine.js';

export type OllamaKind = 'chat' | 'generate';

export interface OllamaRequest {
  kind: OllamaKind;
  job: ChatJob;
  stream: boolean;
}

/** Ollama names models `name:tag`; `name` alone means `name:latest`. */
export function ollamaName(modelId: string): string {
  return modelId.includes(':') ? modelId : `${modelId}:latest`;
}

export function parseOllama(ctx: ServeContext, kind: OllamaKind, raw: unknown): OllamaRequest {
  const body = object(raw, null);
  if (typeof body.model !== 'string' || body.model === '') throw invalid('model is required');
  if (ollamaName(body.model) !== ollamaName(ctx.modelId))
    throw new ApiError(404, `model '${body.model}' not found, try pulling it first`);
  const images: ChatJob['images'] = [];
  const base64 = (list: unknown, param: string): number => {
    if (list === undefined || list === null) return 0;
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string'))
      throw invalid(`${param} must be an array of base64 strings`, param);
    list.forEach((s: string, k) => {
      if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(s)) throw invalid(`${param}[${k}] is not base64`, `${param}[${k}]`);
      images.push({ bytes: Buffer.from(s, 'base64'), param: `${param}[${k}]` });
    });
    return list.length;
  };
  const messages: ChatMessage[] = [];
  if (kind === 'chat') {
    if (!Array.isArray(body.messages)) throw invalid('messages must be an array', 'messages');
    (body.messages as unknown[]).forEach((m, i) => {
      const msg = object(m, `messages[${i}]`);
      if (msg.role !== 'system' && msg.role !== 'user' && msg.role !== 'assistant')
        throw invalid(`messages[${i}].role '${String(msg.role)}' is not supported`, `messages[${i}].role`);
      if (typeof msg.content !== 'string') throw invalid(`messages[${i}].content must be a string`);
      const count = base64(msg.images, `messages[${i}].images`);
      const content = count
        ? [...new Array(count).fill({ type: 'image' }), { type: 'text' as const, text: msg.content }]
        : msg.content;
      messages.push({ role: msg.role, content });
    });
    if (messages.length === 0) throw invalid('messages must not be empty', 'messages');
  } else {
    if (typeof body.prompt !== 'string') throw invalid('prompt is required (a string)', 'prompt');
    if (body.raw === true) throw invalid('raw prompts are not supported; send the prompt without a template', 'raw');
    if (typeof body.system === 'string') messages.push({ role: 'system', content: body.system });
    const count = base64(body.images, 'images');
    messages.push({
      role: 'user',
      content: count ? [...new Array(count).fill({ type: 'image' }), { type: 'text', text: body.prompt }] : body.prompt,
    });
  }
  if (body.format !== undefined && body.format !== null && body.format !== '')
    throw invalid('format (JSON mode) is not supported', 'format');
  if (Array.isArray(body.tools) && body.tools.length > 0) throw invalid('tools are not supported', 'tools');
  const options = body.options === undefined || body.options === null ? {} : object(body.options, 'options');
  const numPredict = numberField(options, 'num_predict', 'options.num_predict', {
    min: -2,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  if (body.stream !== undefined && typeof body.stream !== 'boolean')
    throw invalid('stream must be a boolean', 'stream');
  return {
    kind,
    stream: body.stream !== false,
    job: {
      messages,
      images,
      // Ollama: -1 (and -2) mean "until the context is full".
      maxTokens: numPredict === undefined || numPredict < 1 ? undefined : numPredict,
      maxTokensParam: 'options.num_predict',
      sampling: {
        // Ollama's defaults: temperature 0.8, top_p 0.9, top_k 40.
        temperature: numberField(options, 'temperature', 'options.temperature', { min: 0, max: 100 }) ?? 0.8,
        topP: numberField(options, 'top_p', 'options.top_p', { min: 0, max: 1, exclusiveMin: true }) ?? 0.9,
        topK: numberField(options, 'top_k', 'options.top_k', { min: 0, max: 1e9, integer: true }) ?? 40,
      },
      seed: numberField(options, 'seed', 'options.seed', { min: -(2 ** 53), max: 2 ** 53, integer: true }),
      stop: stopField(options.stop, 'options.stop', 16),
    },
  };
}

export async function respondOllama(
  ctx: ServeContext,
  request: OllamaRequest,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const started = process.hrtime.bigint();
  const prepared = await prepareJob(ctx, request.job);
  const name = ollamaName(ctx.modelId);
  const piece = (text: string) =>
    request.kind === 'chat' ? { message: { role: 'assistant', content: text } } : { response: text };
  const base = () => ({ model: name, created_at: new Date().toISOString() });
  const final = (r: EngineResult, text: string) => ({
    ...base(),
    ...piece(text),
    done: true,
    done_reason: r.finishReason === 'length' ? 'length' : 'stop',
    total_duration: Number(process.hrtime.bigint() - started),
    load_duration: 0,
    prompt_eval_count: r.promptTokens,
    prompt_eval_duration: r.prefillNs,
    eval_count: r.completionTokens,
    eval_duration: r.decodeNs,
  });
  if (!request.stream) {
    const result = await runJob(ctx, prepared, { signal });
    sendJson(res, 200, final(result, result.text));
    return;
  }
  const line = (obj: object) => res.write(`${JSON.stringify(obj)}\n`);
  const start = () => {
    if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  };
  const result = await runJob(ctx, prepared, {
    signal,
    onText: (text) => {
      start();
      line({ ...base(), ...piece(text), done: false });
    },
  });
  start();
  line(final(result, ''));
  res.end();
}

/** GET /api/tags: the served model as Ollama lists local models. */
export function ollamaTags(ctx: ServeContext, modifiedAt: string, sizeBytes: number): object {
  return {
    models: [
      {
        name: ollamaName(ctx.modelId),
        model: ollamaName(ctx.modelId),
        modified_at: modifiedAt,
        size: sizeBytes,
        digest: '',
        details: {
          parent_model: '',
          format: 'safetensors',
          family: 'llava',
          families: ['llava', 'clip'],
          parameter_size: '',
          quantization_level: '',
        },
      },
    ],
  };
}
