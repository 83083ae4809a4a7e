// A data-generation run: every (image, prompt type) not yet done becomes one chat request,
// `concurrency` at a time. Results are committed in task order (a bounded reorder window), so
// the output files are the same bytes whatever the concurrency and however often the run was
// interrupted (unless one request lagged a whole window behind; see `finish`). Each paid reply
// is in the response cache before its result can be committed, so a kill re-pays only the
// requests in flight; every HTTP attempt is in the output folder's ledger (totals across runs).

import { createHash } from 'node:crypto';
import { ResponseCache, requestKey } from './cache.js';
import {
  ChatClient,
  RequestFailed,
  type AttemptObserver,
  type ClientOptions,
  type Completion,
  type Usage,
} from './client.js';
import type { ImageContext } from './context.js';
import { Ledger } from './ledger.js';
import { OutputStore, taskKey } from './output.js';
import { parseReply } from './parse.js';
import { estimateCost, priceFor, type PriceTable } from './pricing.js';
import { Progress } from './progress.js';
import { buildMessages, type PromptSet, type PromptType } from './prompts.js';
import { toInstructionRecord, type DatagenPlacement, type InstructionRecord } from './record.js';
import { seededIndex } from './seeded.js';
import { emptySummary, type DatagenSummary } from './summary.js';

export interface DatagenOptions {
  contexts: ImageContext[];
  /** One prompt set per type to generate, in the order tasks are made for each image. */
  prompts: PromptSet[];
  /** Human turns of detailed-description records. */
  instructions: readonly string[];
  outDir: string;
  client: ClientOptions;
  concurrency: number;
  seed: number;
  /** Where `<image>` goes in the first human turn (the training data code's option). */
  placement: DatagenPlacement;
  /** Response cache folder (see ResponseCache); null disables the cache. */
  cacheDir: string | null;
  prices: PriceTable;
  /** Stop the run after this many failed requests in a row (the endpoint is down or rejects us). */
  maxConsecutiveFailures: number;
  progress: NodeJS.WriteStream | null;
  /** Results held back to keep output in task order (default max(1024, 32 x concurrency)). */
  reorderWindow?: number;
  /** Aborting it (Ctrl-C) stops dispatching and abandons requests in flight; done work stays. */
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

interface Task {
  index: number;
  type: PromptType;
  context: ImageContext;
  prompts: PromptSet;
}

type Result =
  | { kind: 'record'; task: Task; record: InstructionRecord }
  | { kind: 'reject'; task: Task; reason: string; detail: string; reply: string }
  | { kind: 'failed'; task: Task; reason: string; message: string }
  | { kind: 'abandoned' };

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The settings that shape the records: a resume must use the same ones (see OutputStore). */
function runSettings(o: DatagenOptions): Record<string, unknown> {
  const settings: Record<string, unknown> = {
    model: o.client.model,
    temperature: o.client.temperature ?? null,
    max_tokens: o.client.maxTokens ?? null,
    seed: o.seed,
    image_placement: o.placement,
    instructions_sha256: sha256(o.instructions.join('\n')),
  };
  for (const p of o.prompts) settings[`prompts_sha256.${p.type}`] = sha256(JSON.stringify([p.system, p.examples]));
  return settings;
}

function addUsage(total: Usage, usage: Usage | null): void {
  total.promptTokens += usage?.promptTokens ?? 0;
  total.completionTokens += usage?.completionTokens ?? 0;
}

export async function runDatagen(o: DatagenOptions): Promise<DatagenSummary> {
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1)
    throw new Error(`concurrency must be a positive integer, got ${o.concurrency}`);
  if (o.instructions.length === 0) throw new Error('the detailed-description instruction list is empty');
  const client = new ChatClient(o.client);
  const store = OutputStore.open(o.outDir, runSettings(o));
  let ledger: Ledger | undefined;
  let cache: ResponseCache | null = null;
  try {
    ledger = Ledger.open(o.outDir);
    cache = o.cacheDir === null ? null : ResponseCache.open(o.cacheDir);
    if (cache && cache.migrated > 0)
      o.warn?.(`cache: moved ${cache.migrated} replies from the one-file-per-reply layout into ${cache.dir}`);
    if (cache && cache.corruptLines > 0)
      o.warn?.(`cache: skipped ${cache.corruptLines} damaged entries in ${cache.dir} (their requests are sent again)`);
    return await generate(o, client, store, ledger, cache);
  } finally {
    cache?.close();
    ledger?.close();
    store.close();
  }
}

async function generate(
  o: DatagenOptions,
  client: ChatClient,
  store: OutputStore,
  ledger: Ledger,
  cache: ResponseCache | null,
): Promise<DatagenSummary> {
  const price = priceFor(o.prices, o.client.model);
  const summary = emptySummary(o.client.model, price !== undefined);
  summary.resumed = { records: store.resumedRecords, rejects: store.resumedRejects };
  const count = (table: Record<string, number>, key: string) => {
    table[key] = (table[key] ?? 0) + 1;
  };

  // Pending tasks in input order; an id seen twice keeps its first context.
  const seenIds = new Set<string>();
  const tasks: Task[] = [];
  for (const context of o.contexts) {
    if (seenIds.has(context.id)) {
      summary.duplicate_inputs++;
      o.warn?.(`input: id ${context.id} appears more than once; only the first is used`);
      continue;
    }
    seenIds.add(context.id);
    for (const prompts of o.prompts) {
      if (!store.done.has(taskKey(prompts.type, context.id)))
        tasks.push({ index: tasks.length, type: prompts.type, context, prompts });
    }
  }
  summary.tasks = tasks.length;

  const progress = new Progress(o.progress);
  const started = Date.now();
  const state = () => ({
    finished: summary.finished,
    total: tasks.length,
    costUsd: estimateCost(price, ledger.run.usage),
    failed: summary.failed,
  });
  let stopReason: string | null = null;
  let consecutiveFailures = 0;
  const attempts: AttemptObserver = { onSend: () => ledger.send(), onRetry: (cause) => ledger.retry(cause) };

  async function complete(task: Task): Promise<{ completion: Completion } | Result> {
    const body = client.requestBody(buildMessages(task.prompts, task.context));
    const key = requestKey(body);
    const cached = await cache?.get(key);
    if (cached) {
      summary.requests.cached++;
      addUsage(summary.usage_saved_by_cache, cached.usage);
      return { completion: cached };
    }
    try {
      const completion = await client.complete(body, attempts, o.signal);
      ledger.reply(completion.usage);
      if (cache) {
        try {
          cache.put(key, completion);
        } catch (err) {
          o.warn?.(
            `cache: cannot write to ${cache.dir} (${(err as Error).message}); the cache is off for the rest of this run, and replies not yet in the output would be paid again by a rerun`,
          );
          cache = null;
        }
      }
      return { completion };
    } catch (err) {
      if (o.signal?.aborted) return { kind: 'abandoned' };
      if (!(err instanceof RequestFailed)) throw err;
      ledger.failed(err.reason);
      if (err.fatal) stopReason ??= `stopped: ${err.message}`;
      return { kind: 'failed', task, reason: err.reason, message: err.message };
    }
  }

  async function process(task: Task): Promise<Result> {
    const outcome = await complete(task);
    if (!('completion' in outcome)) return outcome;
    const { content, finishReason, refusal } = outcome.completion;
    const reject = (reason: string, detail: string): Result => ({
      kind: 'reject',
      task,
      reason,
      detail,
      reply: content,
    });
    if (refusal !== null) return reject('refusal', refusal);
    if (finishReason === 'length') return reject('truncated reply', 'finish_reason "length": raise --max-tokens');
    if (finishReason === 'content_filter') return reject('content filter', 'finish_reason "content_filter"');
    const { id } = task.context;
    const instruction = o.instructions[seededIndex(o.instructions.length, o.seed, task.type, id, 'instruction')]!;
    const parsed = parseReply(task.type, content, instruction);
    if (!parsed.ok) return reject(parsed.reason, parsed.detail);
    return {
      kind: 'record',
      task,
      record: toInstructionRecord(task.context, parsed.turns, o.placement, o.seed, task.type),
    };
  }

  function commit(result: Result): void {
    if (result.kind === 'abandoned') return;
    const { type, context } = result.task;
    summary.finished++;
    if (result.kind === 'failed') {
      summary.failed++;
      count(summary.failures, result.reason);
      consecutiveFailures++;
      store.writeFailure({ type, id: context.id, reason: result.reason, message: result.message });
      o.warn?.(`${type} ${context.id}: ${result.message}; it will be retried by the next run`);
      if (consecutiveFailures >= o.maxConsecutiveFailures)
        stopReason ??= `stopped: ${consecutiveFailures} requests in a row failed (last: ${result.message})`;
      return;
    }
    consecutiveFailures = 0;
    if (result.kind === 'record') {
      const earlier = store.duplicateOf(type, result.record);
      if (earlier === undefined) {
        store.writeRecord(type, result.record);
        summary.records[type] = (summary.records[type] ?? 0) + 1;
        return;
      }
      result = {
        kind: 'reject',
        task: result.task,
        reason: 'duplicate reply',
        detail: `same answers as ${type} ${earlier}`,
        reply: result.record.conversations
          .filter((t) => t.from === 'gpt')
          .map((t) => t.value)
          .join('\n===\n'),
      };
    }
    count(summary.rejects, result.reason);
    store.writeReject({ type, id: context.id, reason: result.reason, detail: result.detail, reply: result.reply });
  }

  // Ordered commit: a result waits in `ready` until every earlier task is committed. When
  // `window` results wait behind one slow task (a reply retried for minutes), that task is
  // overtaken: the others are committed and it is committed whenever it ends. Memory stays
  // bounded and throughput never waits on one request; order is exact unless overtaking happened.
  const window = o.reorderWindow ?? Math.max(1024, 32 * o.concurrency);
  const ready = new Map<number, Result>();
  const overtaken = new Set<number>(); // below nextCommit, still in flight
  let nextCommit = 0;
  let nextTask = 0;
  const stopped = () => stopReason !== null || o.signal?.aborted === true;

  function finish(index: number, result: Result): void {
    if (overtaken.delete(index)) commit(result);
    else ready.set(index, result);
    for (;;) {
      const head = ready.get(nextCommit);
      if (head?.kind === 'abandoned') break; // stopping: later results stay uncommitted (and cached)
      if (head !== undefined) {
        ready.delete(nextCommit++);
        commit(head);
      } else if (ready.size >= window && !stopped()) {
        overtaken.add(nextCommit++);
      } else {
        break;
      }
    }
    progress.update(state());
  }

  async function worker(): Promise<void> {
    while (!stopped() && nextTask < tasks.length) {
      const task = tasks[nextTask++]!;
      finish(task.index, await process(task));
    }
  }

  await Promise.all(Array.from({ length: o.concurrency }, worker));
  if (o.signal?.aborted) stopReason ??= 'interrupted';
  summary.stopped = stopReason;
  summary.unfinished = tasks.length - summary.finished + summary.failed;
  summary.elapsed_s = (Date.now() - started) / 1000;
  summary.requests = { ...structuredClone(ledger.run), cached: summary.requests.cached };
  summary.cost_usd = estimateCost(price, ledger.run.usage) ?? null;
  summary.cost_saved_by_cache_usd = estimateCost(price, summary.usage_saved_by_cache) ?? null;
  summary.totals = {
    ...structuredClone(ledger.total),
    runs: ledger.runs,
    cost_usd: estimateCost(price, ledger.total.usage) ?? null,
  };
  progress.done(state());
  store.writeSummary(summary);
  return summary;
}
