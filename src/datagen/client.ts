// One chat completion against any OpenAI-compatible endpoint through the official SDK, with the
// retry policy owned here (the SDK's own retries are off): 408/409/429/5xx, timeouts, dropped
// connections and malformed bodies are retried with back-off; 401/403/404 stop the whole run
// (a bad key or model fails every request alike); other 4xx fail this request only. Retries are
// counted by cause (RETRY_CAUSES) for the run's accounting.

import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { AbortGroup } from './abort-group.js';
import { backoffDelayMs, checkBackoff, DEFAULT_BACKOFF, retryAfterMs, sleep, type BackoffOptions } from './backoff.js';
import type { ChatMessage } from './prompts.js';
import { nodeFetch } from './transport.js';

export interface ClientOptions {
  baseURL?: string;
  apiKey: string;
  model: string;
  temperature?: number;
  maxTokens?: number;
  /** Whole-request limit, headers and body (the SDK's own timeout stops at the headers). */
  timeoutMs: number;
  /** Retries after the first attempt. */
  maxRetries: number;
  backoff?: BackoffOptions;
  random?: () => number;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface Completion {
  content: string;
  finishReason: string | null;
  refusal: string | null;
  usage: Usage | null;
}

/** The request failed for good; `fatal` means no other request can succeed either. */
export class RequestFailed extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly fatal: boolean,
    readonly attempts: number,
  ) {
    super(message);
  }
}

/** Why an attempt is retried: 408 and 409 are grouped (the SDK's own policy retries both). */
export const RETRY_CAUSES = ['429', '5xx', '408/409', 'timeout', 'network', 'malformed'] as const;
export type RetryCause = (typeof RETRY_CAUSES)[number];

/** Hears every HTTP attempt of a request (the run's ledger). */
export interface AttemptObserver {
  /** Called just before an attempt is sent. */
  onSend?(): void;
  /** The attempt failed and is retried after a back-off. */
  onRetry?(cause: RetryCause): void;
}

/** The chat.completions body: everything that determines the reply (also the cache key). */
export interface RequestBody {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  max_tokens?: number;
}

type Attempt =
  | { ok: true; completion: Completion }
  | { ok: false; reason: string; message: string; retry: RetryCause | null; fatal: boolean; waitHintMs?: number };

/** Statuses that no retry or other request can fix, with what to check. */
const FATAL_STATUS = new Map([
  [401, 'check --api-key / OPENAI_API_KEY'],
  [403, 'the key may lack access to this model'],
  [404, 'check --model, and --base-url (OpenAI-compatible servers usually end it in /v1)'],
]);
function retryCause(status: number): RetryCause | null {
  if (status === 429) return '429';
  if (status >= 500) return '5xx';
  return status === 408 || status === 409 ? '408/409' : null;
}

function readCompletion(body: unknown): Completion | undefined {
  const choice = (body as { choices?: unknown[] } | null)?.choices?.[0] as Record<string, unknown> | undefined;
  const message = choice?.message as Record<string, unknown> | undefined;
  if (!message || (typeof message.content !== 'string' && message.content != null)) return undefined;
  const usage = (body as { usage?: Record<string, unknown> }).usage;
  return {
    content: (message.content as string | null) ?? '',
    finishReason: typeof choice!.finish_reason === 'string' ? choice!.finish_reason : null,
    refusal: typeof message.refusal === 'string' ? message.refusal : null,
    usage:
      typeof usage?.prompt_tokens === 'number' && typeof usage.completion_tokens === 'number'
        ? { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens }
        : null,
  };
}

export class ChatClient {
  private readonly sdk: OpenAI;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  /** Per caller's stop signal, the one listener all requests share (see AbortGroup). */
  private readonly stopGroups = new WeakMap<AbortSignal, AbortGroup>();

  constructor(private readonly options: ClientOptions) {
    if (!(options.timeoutMs > 0)) throw new Error(`timeoutMs must be a positive number, got ${options.timeoutMs}`);
    if (!Number.isInteger(options.maxRetries) || options.maxRetries < 0)
      throw new Error(`maxRetries must be an integer >= 0, got ${options.maxRetries}`);
    if (options.backoff) checkBackoff(options.backoff);
    this.sdk = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      maxRetries: 0,
      timeout: options.timeoutMs,
      fetch: nodeFetch,
    });
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
  }

  requestBody(messages: ChatMessage[]): RequestBody {
    const { model, temperature, maxTokens } = this.options;
    return {
      model,
      messages,
      ...(temperature !== undefined && { temperature }),
      ...(maxTokens !== undefined && { max_tokens: maxTokens }),
    };
  }

  /**
   * Sends `body` until it succeeds or the retries run out. `observer` hears each attempt and each
   * retried failure (the run's accounting); `signal` aborts the waits and the request in flight
   * (Ctrl-C), and may be shared by any number of concurrent calls.
   */
  async complete(body: RequestBody, observer?: AttemptObserver, signal?: AbortSignal): Promise<Completion> {
    let group: AbortGroup | undefined;
    if (signal) {
      group = this.stopGroups.get(signal);
      if (!group) this.stopGroups.set(signal, (group = new AbortGroup(signal)));
    }
    const stop = group?.join();
    try {
      for (let attempt = 0; ; attempt++) {
        const result = await this.attempt(body, observer, stop?.signal);
        if (result.ok) return result.completion;
        if (result.retry === null || attempt >= this.options.maxRetries) {
          const tries = attempt + 1;
          throw new RequestFailed(
            result.reason,
            `${result.message} (after ${tries} attempt${tries > 1 ? 's' : ''})`,
            result.fatal,
            tries,
          );
        }
        observer?.onRetry?.(result.retry);
        await sleep(backoffDelayMs(attempt, result.waitHintMs, this.backoff, this.random), stop?.signal);
      }
    } finally {
      if (stop) group!.leave(stop);
    }
  }

  private async attempt(body: RequestBody, observer?: AttemptObserver, outer?: AbortSignal): Promise<Attempt> {
    if (outer?.aborted) throw outer.reason;
    // One controller per attempt, aborted by the timeout or by `outer` (this request's own stop
    // signal); a listener rather than AbortSignal.any, whose composite signals the signal they
    // follow keeps alive in Node 20.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('timeout')), this.options.timeoutMs);
    const onOuterAbort = () => controller.abort(outer!.reason);
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    const signal = controller.signal;
    observer?.onSend?.();
    try {
      const reply: unknown = await this.sdk.chat.completions.create(
        body as OpenAI.ChatCompletionCreateParamsNonStreaming,
        { signal },
      );
      const completion = readCompletion(reply);
      if (completion) return { ok: true, completion };
      const shown = typeof reply === 'string' ? reply : JSON.stringify(reply);
      return {
        ok: false,
        reason: 'malformed response',
        message: `response is not a chat completion: ${shown.slice(0, 120)}`,
        retry: 'malformed',
        fatal: false,
      };
    } catch (err) {
      if (outer?.aborted) throw outer.reason;
      if (controller.signal.aborted || err instanceof APIConnectionTimeoutError) {
        return {
          ok: false,
          reason: 'timeout',
          message: `no complete reply within ${this.options.timeoutMs} ms`,
          retry: 'timeout',
          fatal: false,
        };
      }
      if (err instanceof APIUserAbortError) throw err;
      if (err instanceof APIConnectionError) {
        const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
        return {
          ok: false,
          reason: 'connection error',
          message: `connection failed${cause}`,
          retry: 'network',
          fatal: false,
        };
      }
      if (err instanceof APIError && typeof err.status === 'number') {
        const hint = FATAL_STATUS.get(err.status);
        const message = `HTTP ${err.status}: ${err.message}${hint ? ` (${hint})` : ''}`;
        return {
          ok: false,
          reason: `http ${err.status}`,
          message,
          retry: retryCause(err.status),
          fatal: hint !== undefined,
          waitHintMs: retryAfterMs(err.headers),
        };
      }
      if (err instanceof SyntaxError) {
        return {
          ok: false,
          reason: 'malformed response',
          message: `response body is not valid JSON (${err.message})`,
          retry: 'malformed',
          fatal: false,
        };
      }
      throw err;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    }
  }
}
