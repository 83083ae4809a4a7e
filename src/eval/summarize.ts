// LLaVA-Bench scores from review files, exactly as `summarize_gpt_review.py` computes and prints
// them (spec §8.5): per category and over all reviews, the column means m1 (reference answer,
// Assistant 1) and m2 (the model, Assistant 2), each Python-rounded to 3 decimals, then
// `key round(m2/m1*100, 1) round(m1*10, 1) round(m2*10, 1)` in Python's float str form.
//
// Reference mode keeps the reference's quirks: parse failures ([-1, -1]) are averaged in, a
// review without a category counts only in `all` (by `tuple`, else `score`), category "all"
// counts twice. Strict mode drops the reviews whose reply does not parse (or whose scores are not
// finite) and lists them instead.

import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readJsonlObjects } from './jsonl.js';
import { parseScore } from './parse-score.js';
import { pythonFloatStr, pythonRound } from './python-float.js';

export interface SummaryRow {
  key: string;
  /** round(m2 / m1 * 100, 1): the relative score. */
  relative: number;
  /** round(m1 * 10, 1) and round(m2 * 10, 1). */
  reference: number;
  candidate: number;
  count: number;
}

export interface ReviewFailure {
  line: number;
  questionId: unknown;
  reason: string;
  reply: string | undefined;
}

export interface FileSummary {
  path: string;
  /** The file name without `gpt4_text_` and `.jsonl`, as the reference prints it. */
  config: string;
  rows: SummaryRow[];
  /** Strict mode: the reviews left out. Always empty in reference mode. */
  failures: ReviewFailure[];
  /** The judge models and reference-answer models the reviews' judge records name (empty for the reference's own files). */
  judges: string[];
  references: string[];
}

export interface SummarizeOptions {
  /** `-f`: these files; otherwise `-d`'s listing. With both, the files are inside `dir`. */
  files?: string[];
  dir?: string;
  /** `-s`: keep a config only if it contains every one of these. */
  select?: string[];
  /** `-v`: keep a config whose judge version ('0613' if in its name, else '0314') is this. */
  version?: string;
  /** `-i`: question ids left out (compared as numbers: a string id is never left out). */
  ignore?: number[];
  strict?: boolean;
}

/** How a reference-answer file without model_id (the qa90 GPT-4 answers) is named. */
export const UNNAMED_REFERENCE = 'reference file (no model_id)';

/** Python's sorted() order of str: by code point (JS `<` compares UTF-16 units). */
export function codePointCompare(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** The review files the reference would read, in its order, with the path to open. */
export function reviewFiles(o: SummarizeOptions): { name: string; path: string }[] {
  let names: string[];
  if (o.files !== undefined && o.files.length > 0) names = o.files;
  else if (o.dir !== undefined) {
    const anyName = o.dir.includes('review');
    names = readdirSync(o.dir).filter(
      (x) =>
        x.endsWith('.jsonl') &&
        (x.startsWith('gpt4_text') || x.startsWith('reviews_') || x.startsWith('review_') || anyName),
    );
  } else throw new Error('summarize: give review files or a folder of them');
  return [...names]
    .sort(codePointCompare)
    .map((name) => ({ name, path: o.dir !== undefined ? join(o.dir, name) : name }));
}

export function configName(name: string): string {
  return basename(name).replaceAll('gpt4_text_', '').replaceAll('.jsonl', '');
}

function scorePair(value: unknown, where: string): number[] {
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => typeof v === 'number'))
    throw new Error(`${where}: the score must be a pair of numbers, got ${JSON.stringify(value)}`);
  return value as number[];
}

/** numpy's mean over axis 0 of an (N, 2) array: a running sum down each column, then / N. */
function columnMeans(pairs: number[][]): [number, number] {
  let s1 = 0;
  let s2 = 0;
  for (const [a, b] of pairs) {
    s1 += a!;
    s2 += b!;
  }
  return [s1 / pairs.length, s2 / pairs.length];
}

function row(key: string, pairs: number[][], path: string): SummaryRow {
  const [m1, m2] = columnMeans(pairs).map((m) => pythonRound(m, 3)) as [number, number];
  if (m1 === 0) throw new Error(`${path}: category ${key}: the reference answers' mean score is 0 (ZeroDivisionError)`);
  return {
    key,
    relative: pythonRound((m2 / m1) * 100, 1),
    reference: pythonRound(m1 * 10, 1),
    candidate: pythonRound(m2 * 10, 1),
    count: pairs.length,
  };
}

function failureOf(review: Record<string, unknown>, pair: number[]): string | undefined {
  if (typeof review.content === 'string') {
    if (!parseScore(review.content).pair.ok) return 'the reply has no score pair';
  } else if (pair[0] === -1 && pair[1] === -1) return 'a failed parse ([-1, -1]) without the reply';
  return pair.every(Number.isFinite) ? undefined : 'a score that is not a finite number';
}

export function summarizeFile(name: string, path: string, o: SummarizeOptions = {}): FileSummary {
  const scores = new Map<string, number[][]>();
  const add = (key: string, pair: number[]) => {
    const list = scores.get(key);
    if (list) list.push(pair);
    else scores.set(key, [pair]);
  };
  const failures: ReviewFailure[] = [];
  const judges = new Set<string>();
  const references = new Set<string>();
  for (const { line, record: review } of readJsonlObjects(path)) {
    const where = `${path}:${line}`;
    const judge = review.judge as { model?: unknown; reference?: unknown } | undefined;
    if (typeof judge?.model === 'string') judges.add(judge.model);
    if (judge && 'reference' in judge)
      references.add(typeof judge.reference === 'string' ? judge.reference : UNNAMED_REFERENCE);
    if (!('question_id' in review)) throw new Error(`${where}: the review has no question_id`);
    const id = review.question_id;
    if (o.ignore !== undefined && typeof id === 'number' && o.ignore.includes(id)) continue;
    const hasCategory = 'category' in review;
    if (hasCategory && typeof review.category !== 'string')
      throw new Error(`${where}: category must be a string, got ${JSON.stringify(review.category)}`);
    const pair = scorePair(hasCategory || 'tuple' in review ? review.tuple : review.score, where);
    if (o.strict) {
      const reason = failureOf(review, pair);
      if (reason !== undefined) {
        failures.push({ line, questionId: id, reason, reply: review.content as string | undefined });
        continue;
      }
    }
    if (hasCategory) add(review.category as string, pair);
    add('all', pair);
  }
  const rows = [...scores.keys()].sort(codePointCompare).map((key) => row(key, scores.get(key)!, path));
  return { path, config: configName(name), rows, failures, judges: [...judges], references: [...references] };
}

export function summarize(o: SummarizeOptions): FileSummary[] {
  const summaries: FileSummary[] = [];
  for (const { name, path } of reviewFiles(o)) {
    const config = configName(name);
    if (o.select?.some((s) => !config.includes(s))) continue;
    if (o.version !== undefined && o.version !== (config.includes('0613') ? '0613' : '0314')) continue;
    summaries.push(summarizeFile(name, path, o));
  }
  return summaries;
}

/** The summary as the reference prints it (strict mode adds the left-out reviews before the rule). */
export function formatSummary(summaries: FileSummary[]): string {
  let out = '';
  for (const s of summaries) {
    out += `${s.config}\n`;
    for (const r of s.rows)
      out += `${r.key} ${pythonFloatStr(r.relative)} ${pythonFloatStr(r.reference)} ${pythonFloatStr(r.candidate)}\n`;
    if (s.failures.length > 0) {
      out += `left out: ${s.failures.length} review${s.failures.length > 1 ? 's' : ''}\n`;
      for (const f of s.failures) {
        const reply = f.reply === undefined ? '' : `: ${JSON.stringify(f.reply.split('\n')[0]!.slice(0, 80))}`;
        out += `  line ${f.line} (question_id ${JSON.stringify(f.questionId)}): ${f.reason}${reply}\n`;
      }
    }
    out += '=================================\n';
  }
  return out;
}
