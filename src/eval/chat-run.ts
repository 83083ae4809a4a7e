// Chat requests whose replies become the lines of a JSONL file in task order, through the data
// engine's client (retries with back-off, response cache, token and cost accounting),
// `concurrency` at a time. In order, so that a file's length says how many tasks are done (the
// reference's resume rule for review files). A reply that arrives ahead of its turn is already in
// the response cache, so a killed run pays at most for the requests in flight. A request that
// fails for good stops the run: no later line can be written before it; the next run starts there.

import { ResponseCache, requestKey } from '../datagen/cache.js';
import { ChatClient, RequestFailed, type ClientOptions, type Completion, type Usage } from '../datagen/client.js';
import { estimateCost, priceFor, type PriceTable } from '../datagen/pricing.js';
import { Progress } from '../datagen/progress.js';
import type { ChatMessage } from '../datagen/prompts.js';
import { sameId } from './bench-inputs.js';
import type { JsonlAppender } from './jsonl-append.js';

export interface ChatTask {
  /** For messages: which task failed. */
  label: string;
  messages: ChatMessage[];
  /** The output line (without newline) for the reply. */
  line: (completion: Completion) => string;
}

export interface ChatRunOptions {
  client: ClientOptions;
  concurrency: number;
  /** Response cache folder; null disables it. */
  cacheDir: string | null;
  prices: PriceTable;
  progress: NodeJS.WriteStream | null;
  signal?: AbortSignal;
}

export interface ChatRunSummary {
  /** Lines written by this run. */
  written: number;
  requests: { sent: number; cached: number };
  retries: Record<string, number>;
  /** This run's paid tokens and their cost (USD; null without a price for the model). */
  usage: Usage;
  cost: number | null;
  /** Why the run ended before the last task, or null. */
  stopped: string | null;
}

export async function runChatTasks(tasks: ChatTask[], file: JsonlAppender, o: ChatRunOptions): Promise<ChatRunSummary> {
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1)
    throw new Error(`concurrency must be a positive integer, got ${o.concurrency}`);
  const cache = o.cacheDir === null ? null : ResponseCache.open(o.cacheDir);
  const client = new ChatClient(o.client);
  const price = priceFor(o.prices, o.client.model);
  const summary: ChatRunSummary = {
    written: 0,
    requests: { sent: 0, cached: 0 },
    retries: {},
    usage: { promptTokens: 0, completionTokens: 0 },
    cost: price ? 0 : null,
    stopped: null,
  };
  const progress = new Progress(o.progress);
  const state = () => ({
    finished: summary.written,
    total: tasks.length,
    costUsd: summary.cost ?? undefined,
    failed: 0,
  });
  const ready = new Map<number, string | null>(); // null: failed or abandoned, nothing after it is written
  let nextCommit = 0;
  let nextTask = 0;
  const stopped = () => summary.stopped !== null || o.signal?.aborted === true;

  async function complete(task: ChatTask): Promise<Completion | null> {
    const body = client.requestBody(task.messages);
    const key = requestKey(body);
    const cached = await cache?.get(key);
    if (cached) {
      summary.requests.cached++;
      return cached;
    }
    let completion: Completion;
    try {
      const onRetry = (cause: string) => (summary.retries[cause] = (summary.retries[cause] ?? 0) + 1);
      completion = await client.complete(body, { onRetry }, o.signal);
    } catch (err) {
      if (o.signal?.aborted) return null;
      if (!(err instanceof RequestFailed)) throw err;
      summary.stopped ??= `stopped: ${task.label}: ${err.message}`;
      return null;
    }
    summary.requests.sent++;
    summary.usage.promptTokens += completion.usage?.promptTokens ?? 0;
    summary.usage.completionTokens += completion.usage?.completionTokens ?? 0;
    summary.cost = estimateCost(price, summary.usage) ?? null;
    cache?.put(key, completion);
    return completion;
  }

  function finish(position: number, line: string | null): void {
    ready.set(position, line);
    for (let head = ready.get(nextCommit); typeof head === 'string'; head = ready.get(nextCommit)) {
      ready.delete(nextCommit++);
      file.append(head);
      summary.written++;
    }
    progress.update(state());
  }

  async function worker(): Promise<void> {
    while (!stopped() && nextTask < tasks.length) {
      const position = nextTask++;
      const task = tasks[position]!;
      const completion = await complete(task);
      finish(position, completion && task.line(completion));
    }
  }
  try {
    await Promise.all(Array.from({ length: o.concurrency }, worker));
  } finally {
    cache?.close();
  }
  if (o.signal?.aborted) summary.stopped ??= 'interrupted';
  progress.done(state());
  return summary;
}

/** A resumed file must be a prefix of this run's output: its question ids those of the first tasks. */
export function checkResumable(file: JsonlAppender, questionIds: unknown[], what: string): void {
  const existing = file.existing;
  if (existing.length > questionIds.length)
    throw new Error(`${file.path} has ${existing.length} ${what}, more than the ${questionIds.length} questions`);
  existing.forEach(({ line, value }, i) => {
    const id = (value as { question_id?: unknown }).question_id;
    if (!sameId(id, questionIds[i]))
      throw new Error(
        `${file.path}:${line}: question ${JSON.stringify(id)}, but question ${i + 1} is ${JSON.stringify(questionIds[i])}: this file belongs to other inputs`,
      );
  });
}
