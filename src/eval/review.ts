// One review line, in the reference's key order and Python json.dumps form (spec §8.4): id
// (1-based), question_id, answer1_id, answer2_id, category, content (the judge's reply), tuple
// (floats, or the int pair [-1, -1] when the reply has no score pair). After these the project
// records who judged against what, and how: `judge` = {model, reference (the reference answers'
// model_id; null for the qa90 GPT-4 answers, which carry none), prompt_sha256, usage}; the
// reference's summary ignores the extra key.

import { createHash } from 'node:crypto';
import type { JudgeItem } from './bench-inputs.js';
import { parseScore } from './parse-score.js';
import { PyFloat, pythonJsonDumps, type PyValue } from './python-json.js';

export interface JudgeRecord {
  model: string;
  reference: string | null;
  promptSha256: string;
  usage: { promptTokens: number; completionTokens: number } | null;
}

export function promptSha256(prompt: string): string {
  return createHash('sha256').update(prompt).digest('hex');
}

export function reviewLine(item: JudgeItem, reply: string, judge: JudgeRecord): string {
  const { pair } = parseScore(reply);
  const tuple: PyValue = pair.ok ? pair.scores.map((s) => new PyFloat(s)) : pair.scores;
  const usage = judge.usage && {
    prompt_tokens: judge.usage.promptTokens,
    completion_tokens: judge.usage.completionTokens,
  };
  return pythonJsonDumps({
    id: item.index + 1,
    question_id: item.questionId,
    answer1_id: item.answer1Id,
    answer2_id: item.answer2Id,
    category: item.category,
    content: reply,
    tuple,
    judge: { model: judge.model, reference: judge.reference, prompt_sha256: judge.promptSha256, usage },
  });
}

/** Tokens the reviews in a file were paid with (reviews without a usage record count 0). */
export function reviewUsage(reviews: unknown[]): { promptTokens: number; completionTokens: number } {
  const total = { promptTokens: 0, completionTokens: 0 };
  for (const review of reviews) {
    const usage = (review as { judge?: { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } } }).judge
      ?.usage;
    if (typeof usage?.prompt_tokens === 'number') total.promptTokens += usage.prompt_tokens;
    if (typeof usage?.completion_tokens === 'number') total.completionTokens += usage.completion_tokens;
  }
  return total;
}
