// The offline teacher and judge behind the OpenAI interface (POST /v1/chat/completions, GET /v1/models) on
// 127.0.0.1, so the data engine, `llava eval reference` and `llava eval judge` run unchanged against it and
// `--base-url` swaps in a real model. It tells its three jobs apart by the system message: the judge's fixed
// system text, the LLaVA-Bench reference answerers' texts, or a data-engine prompt (whose type its first few-shot
// answer shows, as the reference's prompt folders do). Whatever it cannot read gets an OpenAI-style 400 that
// says what was not understood (the client fails that request only). Usage counts whitespace-separated words.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PromptType } from '../datagen/prompts.js';
import { JUDGE_SYSTEM } from '../eval/judge-prompt.js';
import { referenceMessages } from '../eval/reference.js';
import { judgeReply } from './grade.js';
import { datagenReply, parseContextText, referenceReply } from './teacher-replies.js';
import { sceneFromContext } from './world.js';

export const TEACHER_MODEL = 'world-teacher';
const REFERENCE_SYSTEMS = new Set([
  referenceMessages('coco', '', '')[0].content,
  referenceMessages('wild', '', '')[0].content,
]);

class NotUnderstood extends Error {}

type Message = { role: string; content: string };

/** String content, or the text parts of OpenAI's content-part list. */
function messagesOf(body: Record<string, unknown>): Message[] {
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw new NotUnderstood('"messages" must be a non-empty list of {role, content}');
  return body.messages.map((m: { role?: unknown; content?: unknown }, i) => {
    const content = Array.isArray(m?.content)
      ? m.content.map((p: { text?: unknown }) => (typeof p?.text === 'string' ? p.text : '')).join('')
      : m?.content;
    if (typeof m?.role !== 'string' || typeof content !== 'string')
      throw new NotUnderstood(`messages[${i}] needs a string "role" and text "content"`);
    return { role: m.role, content };
  });
}

/** The data-engine prompt type: told by the first few-shot answer, or by the system message without examples. */
function promptType(messages: Message[]): PromptType {
  const example = messages.find((m) => m.role === 'assistant')?.content;
  if (example !== undefined) {
    const questions = example.split('Question:').length - 1;
    return questions === 0 ? 'detail_description' : questions === 1 ? 'complex_reasoning' : 'conversation';
  }
  const system = messages[0]!.content;
  if (/write one plausible question/i.test(system)) return 'complex_reasoning';
  if (/describe the scene in detail/i.test(system)) return 'detail_description';
  if (/conversation/i.test(system)) return 'conversation';
  throw new NotUnderstood('the system message is neither the judge, a reference answerer nor a data-engine prompt');
}

function checkContext(context: string): void {
  if (sceneFromContext(parseContextText(context)).objects.length === 0)
    throw new NotUnderstood(
      'the context describes no object of the world (captions or "red circle: [x1, y1, x2, y2]" lines)',
    );
}

/** The reply text for a chat request. */
export function teacherReply(messages: Message[]): string {
  const system = messages[0]!.role === 'system' ? messages[0]!.content : '';
  const user = [...messages].reverse().find((m) => m.role === 'user')?.content;
  if (user === undefined) throw new NotUnderstood('no user message');
  if (system === JUDGE_SYSTEM) {
    const reply = judgeReply(user);
    if (reply === undefined) throw new NotUnderstood('the judge prompt lacks [Context], [Question] or the two answers');
    return reply;
  }
  if (REFERENCE_SYSTEMS.has(system)) {
    const m = /^\[Context\]\n([\s\S]*?)\n\n\[Question\]\n([\s\S]*)$/.exec(user);
    if (!m) throw new NotUnderstood('the reference request is not "[Context]\\n...\\n\\n[Question]\\n..."');
    checkContext(m[1]!);
    return referenceReply(m[1]!, m[2]!);
  }
  if (system === '') throw new NotUnderstood('no system message: the teacher cannot tell which job this is');
  const type = promptType(messages);
  checkContext(user);
  return datagenReply(type, user);
}

const words = (text: string) => text.split(/\s+/).filter((w) => w !== '').length;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
const error = (res: ServerResponse, status: number, message: string) =>
  send(res, status, { error: { message, type: 'invalid_request_error', param: null, code: null } });

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (req.method === 'GET' && path === '/v1/models')
    return send(res, 200, {
      object: 'list',
      data: [{ id: TEACHER_MODEL, object: 'model', created: 0, owned_by: 'llava-ts' }],
    });
  if (req.method !== 'POST' || path !== '/v1/chat/completions')
    return error(
      res,
      404,
      `no route ${req.method} ${path}: the teacher serves POST /v1/chat/completions and GET /v1/models`,
    );
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(await readBody(req)) as Record<string, unknown>;
  } catch (err) {
    return error(res, 400, `the body is not JSON (${(err as Error).message})`);
  }
  if (body.stream === true) return error(res, 400, 'stream: true is not supported by the offline teacher');
  try {
    const messages = messagesOf(body);
    const content = teacherReply(messages);
    const prompt = messages.reduce((n, m) => n + words(m.content), 0);
    send(res, 200, {
      id: `chatcmpl-teacher`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: typeof body.model === 'string' ? body.model : TEACHER_MODEL,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop' }],
      usage: { prompt_tokens: prompt, completion_tokens: words(content), total_tokens: prompt + words(content) },
    });
  } catch (err) {
    if (err instanceof NotUnderstood) return error(res, 400, `offline teacher: ${err.message}`);
    throw err;
  }
}

export interface Teacher {
  /** Ends in /v1, as the OpenAI SDK's baseURL. */
  baseUrl: string;
  close(): Promise<void>;
}

export async function startTeacher(): Promise<Teacher> {
  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => error(res, 500, `offline teacher failed: ${err.message}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
