// OpenAI Chat Completions (POST /v1/chat/completions) and GET /v1/models: the request fields OpenAI's API takes for a
// vision chat, answered in its shapes, so the official SDK works unchanged. Streaming is server-sent events of
// chat.completion.chunk objects, a final usage chunk with stream_options.include_usage, then `data: [DONE]`.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ChatMessage } from '../text/chat-template.js';
import { ApiError, invalid } from './api-error.js';
import { prepareJob, runJob, type ChatJob, type ServeContext } from './chat-job.js';
import { numberField, object, sendJson, stopField } from './http.js';
import { fetchImageUrl, type RemoteImagePolicy } from './image-fetch.js';

type Part = ChatMessage['content'] extends string | (infer P)[] ? P : never;

/** Reads a chat completion request; image URLs are fetched (or decoded from data:) here. */
export async function parseChatCompletion(
  ctx: ServeContext,
  raw: unknown,
  remote: RemoteImagePolicy,
): Promise<{ job: ChatJob; stream: boolean; includeUsage: boolean }> {
  const body = object(raw, null);
  if (typeof body.model !== 'string') throw invalid('model is required (a string)', 'model');
  if (body.model !== ctx.modelId)
    throw new ApiError(
      404,
      `The model '${body.model}' does not exist; this server serves '${ctx.modelId}'`,
      'model',
      'model_not_found',
    );
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw invalid('messages must be a non-empty array', 'messages');
  const images: ChatJob['images'] = [];
  const messages: ChatMessage[] = [];
  for (const [i, m] of (body.messages as unknown[]).entries()) {
    const msg = object(m, `messages[${i}]`);
    const role = msg.role === 'developer' ? 'system' : msg.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant')
      throw invalid(
        `messages[${i}].role '${String(msg.role)}' is not supported (system, user, assistant)`,
        `messages[${i}].role`,
      );
    messages.push({ role, content: await readContent(msg.content, `messages[${i}].content`, role, images, remote) });
  }
  const n = numberField(body, 'n', 'n', { min: 1, max: 128, integer: true });
  if (n !== undefined && n !== 1) throw invalid('only n=1 is supported', 'n');
  // Features this server does not have are refused rather than ignored, so a client never takes a plain reply
  // for a JSON-mode, tool-calling or logprobs one.
  if (Array.isArray(body.tools) && body.tools.length > 0) throw invalid('tools are not supported', 'tools');
  const format = body.response_format as { type?: unknown } | undefined | null;
  if (format && format.type !== 'text')
    throw invalid(`response_format '${String(format.type)}' is not supported`, 'response_format');
  if (body.logprobs === true) throw invalid('logprobs are not supported', 'logprobs');
  const maxTokensParam = body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  const intRange = { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true };
  const streamOptions =
    body.stream_options === undefined || body.stream_options === null
      ? {}
      : object(body.stream_options, 'stream_options');
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean')
    throw invalid('stream must be a boolean', 'stream');
  return {
    job: {
      messages,
      images,
      maxTokens: numberField(body, maxTokensParam, maxTokensParam, intRange),
      maxTokensParam,
      sampling: {
        temperature: numberField(body, 'temperature', 'temperature', { min: 0, max: 2 }) ?? 1,
        topP: numberField(body, 'top_p', 'top_p', { min: 0, max: 1, exclusiveMin: true }) ?? 1,
        topK: 0,
      },
      seed: numberField(body, 'seed', 'seed', { min: -(2 ** 53), max: 2 ** 53, integer: true }),
      stop: stopField(body.stop, 'stop', 4),
    },
    stream: body.stream === true,
    includeUsage: streamOptions.include_usage === true,
  };
}

async function readContent(
  content: unknown,
  param: string,
  role: string,
  images: ChatJob['images'],
  remote: RemoteImagePolicy,
): Promise<ChatMessage['content']> {
  if (typeof content === 'string') return content;
  if (content === null && role === 'assistant') return '';
  if (!Array.isArray(content)) throw invalid(`${param} must be a string or an array of content parts`, param);
  const parts: Part[] = [];
  for (const [j, p] of content.entries()) {
    const part = object(p, `${param}[${j}]`);
    if (part.type === 'text') {
      if (typeof part.text !== 'string') throw invalid(`${param}[${j}].text must be a string`, `${param}[${j}].text`);
      parts.push({ type: 'text', text: part.text });
    } else if (part.type === 'image_url' && role === 'user') {
      const spec =
        typeof part.image_url === 'string'
          ? { url: part.image_url }
          : object(part.image_url, `${param}[${j}].image_url`);
      if (typeof spec.url !== 'string')
        throw invalid(`${param}[${j}].image_url.url must be a string`, `${param}[${j}].image_url.url`);
      const where = `${param}[${j}].image_url`;
      images.push({ bytes: await fetchImageUrl(spec.url, remote, where), param: where });
      parts.push({ type: 'image' });
    } else {
      throw invalid(
        `${param}[${j}].type '${String(part.type)}' is not supported in a${role === 'user' ? ' user' : `n ${role}`} message (text${role === 'user' ? ', image_url' : ''})`,
        `${param}[${j}].type`,
      );
    }
  }
  return parts;
}

/** Answers a parsed request as one JSON object, or as server-sent events. */
export async function respondChatCompletion(
  ctx: ServeContext,
  parsed: { job: ChatJob; stream: boolean; includeUsage: boolean },
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const prepared = await prepareJob(ctx, parsed.job);
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = (completion: number) => ({
    prompt_tokens: prepared.promptTokens,
    completion_tokens: completion,
    total_tokens: prepared.promptTokens + completion,
  });
  if (!parsed.stream) {
    const result = await runJob(ctx, prepared, { signal });
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: ctx.modelId,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: result.text, refusal: null },
          logprobs: null,
          finish_reason: result.finishReason === 'length' ? 'length' : 'stop',
        },
      ],
      usage: usage(result.completionTokens),
    });
    return;
  }
  // Headers go out with the first piece, so a refusal before it (a full queue) is still a JSON error.
  const chunk = (delta: object, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: ctx.modelId,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(parsed.includeUsage ? { usage: null } : {}),
  });
  const send = (data: object | string) =>
    res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  const start = () => {
    if (res.headersSent) return;
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    send(chunk({ role: 'assistant', content: '', refusal: null }, null));
  };
  const result = await runJob(ctx, prepared, {
    signal,
    onText: (piece) => {
      start();
      send(chunk({ content: piece }, null));
    },
  });
  start();
  send(chunk({}, result.finishReason === 'length' ? 'length' : 'stop'));
  if (parsed.includeUsage)
    send({
      id,
      object: 'chat.completion.chunk',
      created,
      model: ctx.modelId,
      choices: [],
      usage: usage(result.completionTokens),
    });
  send('[DONE]');
  res.end();
}

/** GET /v1/models: the one served model, with what it takes as input. */
export function listModels(ctx: ServeContext, created: number): object {
  return {
    object: 'list',
    data: [
      {
        id: ctx.modelId,
        object: 'model',
        created,
        owned_by: 'llava-ts',
        input_modalities: ['text', 'image'],
        output_modalities: ['text'],
        context_length: ctx.engine.contextLength,
      },
    ],
  };
}
