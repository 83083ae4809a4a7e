// `llava serve`'s HTTP server: OpenAI routes under /v1, Ollama's under /api, /health, and the web chat page at /,
// all answered from one model through one continuous-batching engine. Every refusal is a JSON error in the route's
// API style and the server keeps serving; a client that disconnects cancels its generation.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from './api-error.js';
import type { ServeContext } from './chat-job.js';
import { disconnectSignal, readJsonBody, sendJson } from './http.js';
import type { RemoteImagePolicy } from './image-fetch.js';
import { parseOllama, ollamaTags, respondOllama } from './ollama.js';
import { listModels, parseChatCompletion, respondChatCompletion } from './openai.js';
import { WEB_PAGE } from './web-page.js';

export interface ServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  maxBodyBytes?: number;
  remoteImages?: Partial<RemoteImagePolicy>;
  /** Size of the checkpoint's weights, for /api/tags. */
  modelBytes?: number;
}

export interface RunningServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

type Style = 'openai' | 'ollama';

export async function startServer(ctx: ServeContext, options: ServerOptions = {}): Promise<RunningServer> {
  const remote: RemoteImagePolicy = {
    allow: options.remoteImages?.allow ?? false,
    maxBytes: options.remoteImages?.maxBytes ?? 10 * 2 ** 20,
    timeoutMs: options.remoteImages?.timeoutMs ?? 10_000,
  };
  const maxBodyBytes = options.maxBodyBytes ?? 20 * 2 ** 20;
  const startedAt = new Date();
  const created = Math.floor(startedAt.getTime() / 1000);

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    const only = (m: string) => {
      if (method !== m)
        throw new ApiError(405, `${method} is not allowed on ${path}; use ${m}`, null, 'method_not_allowed');
    };
    const signal = disconnectSignal(res);
    switch (path) {
      case '/':
        only('GET');
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(WEB_PAGE);
        return;
      case '/health':
        return sendJson(res, 200, { status: 'ok', model: ctx.modelId, ...ctx.engine.load });
      case '/v1/models':
        only('GET');
        return sendJson(res, 200, listModels(ctx, created));
      case '/v1/chat/completions': {
        only('POST');
        const parsed = await parseChatCompletion(ctx, await readJsonBody(req, maxBodyBytes), remote);
        return respondChatCompletion(ctx, parsed, res, signal);
      }
      case '/api/chat':
      case '/api/generate': {
        only('POST');
        const kind = path === '/api/chat' ? 'chat' : 'generate';
        const parsed = parseOllama(ctx, kind, await readJsonBody(req, maxBodyBytes));
        return respondOllama(ctx, parsed, res, signal);
      }
      case '/api/tags':
        only('GET');
        return sendJson(res, 200, ollamaTags(ctx, startedAt.toISOString(), options.modelBytes ?? 0));
      case '/api/version':
        return sendJson(res, 200, { version: '0.6.4' });
    }
    if (path.startsWith('/v1/models/')) {
      only('GET');
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (id !== ctx.modelId) throw new ApiError(404, `The model '${id}' does not exist`, 'model', 'model_not_found');
      return sendJson(res, 200, (listModels(ctx, created) as { data: object[] }).data[0]);
    }
    throw new ApiError(404, `no route ${method} ${path}`, null, 'not_found');
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const style: Style = path.startsWith('/api/') ? 'ollama' : 'openai';
    route(req, res, path).catch((err: unknown) => fail(res, style, err));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8000, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The error in the route's style; mid-stream, as a last event, since the status line is already out. */
function fail(res: ServerResponse, style: Style, err: unknown): void {
  const apiError =
    err instanceof ApiError
      ? err
      : new ApiError(
          500,
          `internal error: ${err instanceof Error ? err.message : String(err)}`,
          null,
          'internal_error',
        );
  if (apiError.status >= 500) console.error(err);
  const body = style === 'ollama' ? { error: apiError.message } : apiError.openaiBody();
  if (res.headersSent) {
    if (!res.writableEnded)
      res.end(style === 'ollama' ? `${JSON.stringify(body)}\n` : `data: ${JSON.stringify(body)}\n\n`);
    return;
  }
  // The rest of an unread body (a 413) is discarded; the connection closes after the answer.
  sendJson(res, apiError.status, body, {
    ...apiError.headers,
    ...(apiError.status === 413 ? { Connection: 'close' } : {}),
  });
}
