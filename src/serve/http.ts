// The HTTP plumbing both APIs share: JSON bodies read under a size limit, JSON answers, and a signal that fires when
// the client goes away before its answer is complete (so its generation stops at the next step).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, invalid } from './api-error.js';

export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooLarge = () =>
    new ApiError(413, `request body is over the limit of ${maxBytes} bytes`, null, 'request_too_large');
  if (declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw invalid('the request body is empty; expected a JSON object');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalid(`the request body is not valid JSON (${(err as Error).message})`, null, 'invalid_json');
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Aborts when the connection closes before the response has been completely written. */
export function disconnectSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** A plain object, or a 400 naming the field. */
export function object(value: unknown, param: string | null): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid(`${param ?? 'the request body'} must be a JSON object`, param);
  return value as Record<string, unknown>;
}

/** An optional number field within [min, max] (integer when asked). */
export function numberField(
  body: Record<string, unknown>,
  key: string,
  param: string,
  range: { min: number; max: number; integer?: boolean; exclusiveMin?: boolean },
): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (range.exclusiveMin ? v > range.min : v >= range.min) &&
    v <= range.max &&
    (!range.integer || Number.isInteger(v));
  if (!ok)
    throw invalid(
      `${param} must be ${range.integer ? 'an integer' : 'a number'} in ${range.exclusiveMin ? '(' : '['}${range.min}, ${range.max}], got ${JSON.stringify(v)}`,
      param,
    );
  return v as number;
}

/** `stop`: a string or an array of at most `max` strings. */
export function stopField(v: unknown, param: string, max: number): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length > max || !list.every((s) => typeof s === 'string' && s.length > 0))
    throw invalid(`${param} must be a non-empty string or an array of up to ${max} of them`, param);
  return list as string[];
}
