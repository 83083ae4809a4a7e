// A LLaVA-Bench judge run: each question's prompt (judge-prompt.ts) goes to any OpenAI-compatible
// model through the data engine's client (retries with back-off, response cache, token and cost
// accounting), `concurrency` at a time. Reviews are written in question order, as the reference
// writes them, so that its resume rule holds: the first len(file) questions are done. A reply that
// arrives ahead of its turn is already in the response cache, so a killed run pays at most for the
// requests in flight. A request that fails for good stops the run (later reviews cannot be
// written before it); the next run starts there.

import { ResponseCache, requestKey } from '../datagen/cache.js';
import { ChatClient, RequestFailed, type ClientOptions, type Completion, type Usage } from '../datagen/client.js';
import { estimateCost, priceFor, type PriceTable } from '../datagen/pricing.js';
import { Progress } from '../datagen/progress.js';
import { sameId, type JudgeItem } from './bench-inputs.js';
import { JUDGE_SYSTEM } from './judge-prompt.js';
import { JsonlAppender } from './jsonl-append.js';
import { parseScore } from './parse-score.js';
import { pythonJsonLoads } from './python-json.js';
import { promptSha256, reviewLine, reviewUsage } from './review.js';

export interface JudgeOptions {
  items: JudgeItem[];
  /** The review file (JSONL); an existing one is resumed. */
  output: string;
  client: ClientOptions;
  concurrency: number;
  /** Response cache folder; null disables it. */
  cacheDir: string | null;
  prices: PriceTable;
  progress: NodeJS.WriteStream | null;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export interface JudgeSummary {
  judge: string;
  questions: number;
  /** Reviews found in the file when the run started. */
  resumed: number;
  /** Reviews written by this run. */
  written: number;
  /** Reviews in the file whose reply has no score pair (the reference scores them [-1, -1]). */
  parseFailures: number;
  requests: { sent: number; cached: number };
  retries: Record<string, number>;
  /** This run's paid tokens, and the tokens of every review in the file (each paid once). */
  usage: Usage;
  fileUsage: Usage;
  /** USD; null when the price table has no row for the judge. */
  cost: number | null;
  fileCost: number | null;
  /** Why the run ended before the last question, or null. */
  stopped: string | null;
}

export async function runJudge(o: JudgeOptions): Promise<JudgeSummary> {
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1)
    throw new Error(`concurrency must be a positive integer, got ${o.concurrency}`);
  const file = JsonlAppender.open(o.output);
  try {
    return await judge(o, file);
  } finally {
    file.close();
  }
}

async function judge(o: JudgeOptions, file: JsonlAppender): Promise<JudgeSummary> {
  const reviews: unknown[] = file.existing.map((l) => l.value);
  if (reviews.length > o.items.length)
    throw new Error(`${o.output} has ${reviews.length} reviews, more than the ${o.items.length} questions`);
  file.existing.forEach(({ line, value }, i) => {
    const id = (value as { question_id?: unknown }).question_id;
    if (!sameId(id, o.items[i]!.questionId))
      throw new Error(
        `${o.output}:${line}: review of question ${JSON.stringify(id)}, but question ${i + 1} is ${JSON.stringify(o.items[i]!.questionId)}: this review file belongs to other inputs`,
      );
  });
  const cache = o.cacheDir === null ? null : new ResponseCache(o.cacheDir);
  const client = new ChatClient(o.client);
  const price = priceFor(o.prices, o.client.model);
  const usage: Usage = { promptTokens: 0, completionTokens: 0 };
  const summary: Omit<JudgeSummary, 'fileUsage' | 'fileCost' | 'parseFailures'> = {
    judge: o.client.model,
    questions: o.items.length,
    resumed: reviews.length,
    written: 0,
    requests: { sent: 0, cached: 0 },
    retries: {},
    usage,
    cost: price ? 0 : null,
    stopped: null,
  };
  const tasks = o.items.slice(reviews.length);
  const progress = new Progress(o.progress);
  const state = () => ({
    finished: summary.written,
    total: tasks.length,
    costUsd: summary.cost ?? undefined,
    failed: 0,
  });

  type Result = { ok: true; line: string; review: unknown } | { ok: false };
  const ready = new Map<number, Result>();
  let nextCommit = 0;
  let nextTask = 0;
  const stopped = () => summary.stopped !== null || o.signal?.aborted === true;

  async function review(item: JudgeItem): Promise<Result> {
    const body = client.requestBody([
      { role: 'system', content: JUDGE_SYSTEM },
      { role: 'user', content: item.prompt },
    ]);
    const key = requestKey(body);
    let completion: Completion | undefined = await cache?.get(key);
    if (completion) summary.requests.cached++;
    else {
      try {
        completion = await client.complete(body, (r) => (summary.retries[r] = (summary.retries[r] ?? 0) + 1), o.signal);
      } catch (err) {
        if (o.signal?.aborted) return { ok: false };
        if (!(err instanceof RequestFailed)) throw err;
        summary.stopped ??= `stopped: question ${item.index + 1}: ${err.message}`;
        return { ok: false };
      }
      summary.requests.sent++;
      usage.promptTokens += completion.usage?.promptTokens ?? 0;
      usage.completionTokens += completion.usage?.completionTokens ?? 0;
      summary.cost = estimateCost(price, usage) ?? null;
      await cache?.put(key, completion);
    }
    const line = reviewLine(item, completion.content, {
      model: o.client.model,
      promptSha256: promptSha256(item.prompt),
      usage: completion.usage,
    });
    return { ok: true, line, review: pythonJsonLoads(line) };
  }

  function finish(position: number, result: Result): void {
    ready.set(position, result);
    for (let head = ready.get(nextCommit); head?.ok; head = ready.get(nextCommit)) {
      ready.delete(nextCommit++);
      file.append(head.line);
      reviews.push(head.review);
      summary.written++;
    }
    progress.update(state());
  }

  async function worker(): Promise<void> {
    while (!stopped() && nextTask < tasks.length) {
      const position = nextTask++;
      finish(position, await review(tasks[position]!));
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  if (o.signal?.aborted) summary.stopped ??= 'interrupted';
  progress.done(state());

  const fileUsage = reviewUsage(reviews);
  const parseFailures = reviews.filter((r) => {
    const content = (r as { content?: unknown }).content;
    return typeof content !== 'string' || !parseScore(content).pair.ok;
  }).length;
  return { ...summary, parseFailures, fileUsage, fileCost: estimateCost(price, fileUsage) ?? null };
}

export function formatJudgeSummary(s: JudgeSummary): string {
  const usd = (v: number | null) =>
    v === null ? 'unknown (no price for this judge; see --prices)' : `$${v.toFixed(4)}`;
  const done = s.resumed + s.written;
  const retries =
    Object.entries(s.retries)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  return [
    `judge ${s.judge} ${s.stopped ?? 'finished'}: ${done}/${s.questions} reviews (${s.written} this run, ${s.resumed} resumed)` +
      (done < s.questions ? '; run the same command again to continue' : ''),
    `  requests: ${s.requests.sent} sent, ${s.requests.cached} from cache; retried: ${retries}`,
    `  replies without a score pair: ${s.parseFailures}`,
    `  this run: ${s.usage.promptTokens} prompt + ${s.usage.completionTokens} completion tokens, ${usd(s.cost)}`,
    `  all reviews: ${s.fileUsage.promptTokens} prompt + ${s.fileUsage.completionTokens} completion tokens, ${usd(s.fileCost)}`,
  ].join('\n');
}
