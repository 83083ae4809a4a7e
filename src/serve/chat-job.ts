// What both APIs ask of the model, once their request shapes are read: a conversation with images, sampling settings
// and limits. Turns it into engine inputs (images decoded and checked, the prompt measured against the context) and
// runs it, mapping each refusal to the status the APIs give it.
import type { ChatMessage } from '../text/chat-template.js';
import { ImageDecodeError } from '../vision/decode.js';
import type { Tensor } from '../torch/index.js';
import { ApiError, invalid } from './api-error.js';
import { QueueFullError, type BatchEngine, type EngineResult } from './engine.js';
import type { LlavaProcessor, ModelInputs } from './processor.js';
import type { SamplingParams } from './sampler.js';

export interface ServeLimits {
  maxImages: number;
}

export interface ServeContext {
  modelId: string;
  engine: BatchEngine;
  /** Loaded with the server's pixel limit (ProcessorOptions.maxPixels). */
  processor: LlavaProcessor;
  limits: ServeLimits;
}

export interface ChatJob {
  messages: ChatMessage[];
  /** Encoded images in placeholder order, each with the request field it came from. */
  images: { bytes: Buffer; param: string }[];
  maxTokens?: number;
  /** The field max tokens came from, for errors (max_tokens, max_completion_tokens, options.num_predict). */
  maxTokensParam: string;
  sampling: SamplingParams;
  seed?: number;
  stop: string[];
}

export interface PreparedJob {
  inputs: ModelInputs;
  promptTokens: number;
  maxNewTokens: number;
  job: ChatJob;
}

export async function prepareJob(ctx: ServeContext, job: ChatJob): Promise<PreparedJob> {
  if (job.images.length > ctx.limits.maxImages)
    throw invalid(`${job.images.length} images is more than this server accepts (${ctx.limits.maxImages})`, 'messages');
  const pixels: Tensor[] = [];
  for (const { bytes, param } of job.images) {
    try {
      pixels.push(await ctx.processor.pixelValues(bytes, param));
    } catch (err) {
      if (err instanceof ImageDecodeError) throw invalid(err.message, param, 'invalid_image');
      throw err;
    }
  }
  let inputs: ModelInputs;
  try {
    inputs = await ctx.processor.process({ messages: job.messages, images: pixels });
  } catch (err) {
    throw invalid((err as Error).message, 'messages');
  }
  const promptTokens = ctx.engine.promptLength(inputs);
  const room = ctx.engine.contextLength - promptTokens;
  if (room < 1 || (job.maxTokens !== undefined && job.maxTokens > room))
    throw invalid(
      `this model's maximum context length is ${ctx.engine.contextLength} tokens; the messages take ${promptTokens}` +
        (job.maxTokens !== undefined ? ` and ${job.maxTokens} were requested for the completion` : ''),
      room < 1 ? 'messages' : job.maxTokensParam,
      'context_length_exceeded',
    );
  return { inputs, promptTokens, maxNewTokens: job.maxTokens ?? room, job };
}

/** Runs a prepared job; a full queue is a 429 with Retry-After. */
export async function runJob(
  ctx: ServeContext,
  p: PreparedJob,
  hooks: { signal: AbortSignal; onText?: (piece: string) => void },
): Promise<EngineResult> {
  try {
    return await ctx.engine.submit({
      inputs: p.inputs,
      maxNewTokens: p.maxNewTokens,
      sampling: p.job.sampling,
      seed: p.job.seed,
      stop: [...ctx.processor.stopStrings, ...p.job.stop],
      signal: hooks.signal,
      onText: hooks.onText,
    });
  } catch (err) {
    if (err instanceof QueueFullError)
      throw new ApiError(429, err.message, null, 'rate_limit_exceeded', 'requests', {
        'Retry-After': String(err.retryAfterSeconds),
      });
    throw err;
  } finally {
    for (const t of Object.values(p.inputs)) t?.dispose();
  }
}
