// Waiting between attempts: exponential back-off with full jitter (delay drawn uniformly in
// [0, min(cap, base * 2^attempt)]), unless the server said how long to wait (Retry-After in
// seconds or as an HTTP date, or OpenAI's retry-after-ms), which is honoured plus up to 10%
// jitter so that many clients told the same time do not return in one burst.

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Longest server-requested wait honoured; longer ones are clipped (a stuck header must not hang a run). */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 60_000, maxRetryAfterMs: 600_000 };

/** Throws naming the first bad field: a zero or negative delay would retry in a tight loop. */
export function checkBackoff(options: BackoffOptions): void {
  const { baseMs, capMs, maxRetryAfterMs } = options;
  if (!(Number.isFinite(baseMs) && baseMs > 0))
    throw new Error(`backoff.baseMs must be a positive number, got ${baseMs}`);
  if (!(Number.isFinite(capMs) && capMs >= baseMs))
    throw new Error(`backoff.capMs must be a number >= backoff.baseMs (${baseMs}), got ${capMs}`);
  if (!(Number.isFinite(maxRetryAfterMs) && maxRetryAfterMs >= 0))
    throw new Error(`backoff.maxRetryAfterMs must be a number >= 0, got ${maxRetryAfterMs}`);
}

/** Milliseconds the server asked for, or undefined when it gave no usable hint. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms != null && ms.trim() !== '' && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const value = headers?.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Delay before retry number `attempt` (0 = the first retry). */
export function backoffDelayMs(
  attempt: number,
  serverHintMs: number | undefined,
  options: BackoffOptions,
  random: () => number,
): number {
  if (serverHintMs !== undefined) {
    const hint = Math.min(serverHintMs, options.maxRetryAfterMs);
    return hint + random() * 0.1 * hint;
  }
  return random() * Math.min(options.capMs, options.baseMs * 2 ** attempt);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
