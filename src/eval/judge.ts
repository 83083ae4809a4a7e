// A LLaVA-Bench judge run: each question's prompt (judge-prompt.ts) to any OpenAI-compatible
// model, one review line per question in question order (chat-run.ts), so that the reference's
// resume rule holds: the first len(file) questions are done. A review file is resumed only by the
// inputs it belongs to (its question ids must be the questions' in order).

import type { Usage } from '../datagen/client.js';
import { estimateCost, priceFor } from '../datagen/pricing.js';
import type { JudgeItem } from './bench-inputs.js';
import { checkResumable, runChatTasks, type ChatRunOptions, type ChatRunSummary } from './chat-run.js';
import { JUDGE_SYSTEM } from './judge-prompt.js';
import { JsonlAppender } from './jsonl-append.js';
import { readJsonl } from './jsonl.js';
import { parseScore } from './parse-score.js';
import { promptSha256, reviewLine, reviewUsage } from './review.js';

export interface JudgeOptions extends ChatRunOptions {
  items: JudgeItem[];
  /** The review file (JSONL); an existing one is resumed. */
  output: string;
}

export interface JudgeSummary extends ChatRunSummary {
  judge: string;
  questions: number;
  /** Reviews found in the file when the run started. */
  resumed: number;
  /** Reviews in the file whose reply has no score pair (the reference scores them [-1, -1]). */
  parseFailures: number;
  /** The tokens of every review in the file (each paid once, by whichever run) and their cost. */
  fileUsage: Usage;
  fileCost: number | null;
}

export async function runJudge(o: JudgeOptions): Promise<JudgeSummary> {
  const file = JsonlAppender.open(o.output);
  try {
    const existing = file.existing;
    checkResumable(
      file,
      o.items.map((item) => item.questionId),
      'reviews',
    );
    const tasks = o.items.slice(existing.length).map((item) => ({
      label: `question ${item.index + 1}`,
      messages: [
        { role: 'system' as const, content: JUDGE_SYSTEM },
        { role: 'user' as const, content: item.prompt },
      ],
      line: (c: { content: string; usage: Usage | null }) =>
        reviewLine(item, c.content, {
          model: o.client.model,
          reference: item.reference,
          promptSha256: promptSha256(item.prompt),
          usage: c.usage,
        }),
    }));
    const run = await runChatTasks(tasks, file, o);
    // The whole file, as it now is: the resumed reviews and this run's.
    const all = readJsonl(o.output).map((l) => l.value);
    const fileUsage = reviewUsage(all);
    const parseFailures = all.filter((r) => {
      const content = (r as { content?: unknown }).content;
      return typeof content !== 'string' || !parseScore(content).pair.ok;
    }).length;
    return {
      ...run,
      judge: o.client.model,
      questions: o.items.length,
      resumed: existing.length,
      parseFailures,
      fileUsage,
      fileCost: estimateCost(priceFor(o.prices, o.client.model), fileUsage) ?? null,
    };
  } finally {
    file.close();
  }
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
