// An OpenAI-compatible chat server on 127.0.0.1 for the tests and the benchmark. A script
// decides what each POST /v1/chat/completions gets: a reply (optionally late), an HTTP error with
// headers, a malformed body, headers and then silence, or a dropped connection. It records every
// request it received.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  temperature?: number;
  max_tokens?: number;
}

export type Action =
  | { kind: 'reply'; content: string | null; delayMs?: number; finishReason?: string; refusal?: string }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'malformed'; body: string; contentType?: string }
  | { kind: 'stall' } // 200 and headers, then no body until the client gives up
  | { kind: 'drop' }; // close the socket without an answer

export type Script = (request: ChatRequest, index: number) => Action | Promise<Action>;

export interface FakeServer {
  baseURL: string;
  /** Every request received, in order (none kept when started with record: false). */
  requests: ChatRequest[];
  /** Time (ms, Date.now) each request arrived. */
  arrivals: number[];
  close(): Promise<void>;
}

/** The query context: the last user message. */
export function queryOf(request: ChatRequest): string {
  return request.messages[request.messages.length - 1]!.content;
}

/** Which prompt type a request is, told by its first few-shot answer (works for any prompt folder). */
export function typeOf(request: ChatRequest): 'conversation' | 'detail_description' | 'complex_reasoning' {
  const example = request.messages.find((m) => m.role === 'assistant')?.content ?? '';
  const questions = example.split('Question:').length - 1;
  return questions === 0 ? 'detail_description' : questions === 1 ? 'complex_reasoning' : 'conversation';
}

/** A well-formed reply of the request's type, different for each query and the same every time. */
export function validReply(request: ChatRequest): string {
  const query = queryOf(request);
  const tag = createHash('sha256').update(query).digest('hex').slice(0, 8);
  const firstCaption = query.split('\n')[0]!;
  switch (typeOf(request)) {
    case 'detail_description':
      return `The scene (${tag}) shows what the first caption says: ${firstCaption}`;
    case 'complex_reasoning':
      return `Question:\nWhat is notable here (${tag})?\n===\nAnswer:\n${firstCaption}`;
    case 'conversation':
      return `Question:\nWhat is in the image (${tag})?\n===\nAnswer:\n${firstCaption}\n===\nQuestion:\nHow many lines describe it?\n===\nAnswer:\n${query.split('\n').length} lines.`;
  }
}

function completionBody(request: ChatRequest, content: string | null, finishReason: string, refusal?: string): string {
  const promptChars = request.messages.reduce((n, m) => n + m.content.length, 0);
  return JSON.stringify({
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 0,
    model: request.model,
    choices: [
      { index: 0, message: { role: 'assistant', content, refusal: refusal ?? null }, finish_reason: finishReason },
    ],
    usage: {
      prompt_tokens: Math.ceil(promptChars / 4),
      completion_tokens: Math.ceil((content ?? '').length / 4),
      total_tokens: 0,
    },
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `record: false` keeps no request bodies (for long benchmark runs, whose memory is measured). */
export async function startFakeServer(script: Script, { record = true } = {}): Promise<FakeServer> {
  const requests: ChatRequest[] = [];
  const arrivals: number[] = [];
  const stalled = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>(); // delayed replies, cancelled by close()
  let received = 0;
  const server = createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const request = JSON.parse(await readBody(req)) as ChatRequest;
    const index = received++;
    if (record) {
      requests.push(request);
      arrivals.push(Date.now());
    }
    const action = await script(request, index);
    switch (action.kind) {
      case 'reply':
        if (action.delayMs) await new Promise((r) => timers.add(setTimeout(r, action.delayMs)));
        if (res.destroyed) return;
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(completionBody(request, action.content, action.finishReason ?? 'stop', action.refusal));
        return;
      case 'status':
        res
          .writeHead(action.status, { 'content-type': 'application/json', ...action.headers })
          .end(action.body ?? JSON.stringify({ error: { message: `scripted ${action.status}`, type: 'test' } }));
        return;
      case 'malformed':
        res.writeHead(200, { 'content-type': action.contentType ?? 'application/json' }).end(action.body);
        return;
      case 'stall':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id": "chatcmpl-');
        stalled.add(res);
        return;
      case 'drop':
        req.socket.destroy();
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of stalled) res.destroy();
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
