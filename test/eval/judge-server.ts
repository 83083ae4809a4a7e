// A scripted OpenAI-compatible judge on 127.0.0.1 for the judge tests. `script` decides each
// request's fate from its user prompt and how often that prompt was seen: a reply, a 429, a
// dropped connection, a malformed body, or `hold` (no answer until the server closes). The
// server keeps its own books: requests per prompt, and the replies it delivered (the paid ones)
// with their token usage.

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type JudgeAction =
  { kind: 'reply'; content: string } | { kind: '429' } | { kind: 'drop' } | { kind: 'malformed' } | { kind: 'hold' };

export interface Paid {
  prompt: string;
  promptTokens: number;
  completionTokens: number;
}

export interface JudgeServer {
  baseURL: string;
  /** Requests received per user prompt (every attempt). */
  requests: Map<string, number>;
  /** Replies delivered, in order. */
  paid: Paid[];
  /** Requests held open right now. */
  held: Set<ServerResponse>;
  /** Called after each request is handled (tests wait on conditions through it). */
  onEvent: (() => void) | null;
  close(): Promise<void>;
}

export async function startJudgeServer(
  script: (prompt: string, attempt: number, body: Record<string, unknown>) => JudgeAction,
): Promise<JudgeServer> {
  const state: JudgeServer = {
    baseURL: '',
    requests: new Map(),
    paid: [],
    held: new Set(),
    onEvent: null,
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const messages = body.messages as { role: string; content: string }[];
      const prompt = messages[messages.length - 1]!.content;
      const attempt = state.requests.get(prompt) ?? 0;
      state.requests.set(prompt, attempt + 1);
      const action = script(prompt, attempt, body);
      if (action.kind === 'reply') {
        // Token counts the client cannot guess: prompt bytes / 3 and reply characters + 7.
        const usage = {
          prompt_tokens: Math.ceil(Buffer.byteLength(prompt) / 3),
          completion_tokens: action.content.length + 7,
        };
        state.paid.push({ prompt, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens });
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id: 'chatcmpl-judge',
            object: 'chat.completion',
            created: 0,
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content: action.content }, finish_reason: 'stop' }],
            usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
          }),
        );
      } else if (action.kind === '429') {
        res
          .writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '1' })
          .end('{"error":{"message":"rate limited","type":"requests"}}');
      } else if (action.kind === 'drop') {
        req.socket.destroy();
      } else if (action.kind === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [{"message": ');
      } else {
        state.held.add(res);
        res.on('close', () => state.held.delete(res));
      }
      state.onEvent?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const res of state.held) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

/** Resolves once `condition()` holds, checked after every server event. */
export function when(server: JudgeServer, condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!condition()) return;
      server.onEvent = null;
      resolve();
    };
    server.onEvent = check;
    check();
  });
}
