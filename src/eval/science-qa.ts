// ScienceQA accuracy as LLaVA's eval_science_qa.py computes it (v1.5: "Answer with the option's
// letter from the given choices directly."). The problems are the ids of pid_splits.json[split],
// in that order; predictions are keyed by question_id (the last line wins; an int id never
// matches the string problem ids). The letter, in order: the text is exactly one of A-E; or it
// is at least 3 long, starts with one of A-E and then ". "; or `The answer is ([A-Z]).` (the dot
// is any character but a newline) matches exactly once. Anything else is FAILED. A letter beyond
// the problem's choices scores as wrong (index -1). IMG-Accuracy counts the prompts with <image>.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonlObjects } from './jsonl.js';
import { pythonFixed } from './python-float.js';
import { PyFloat, type PyValue } from './python-json.js';

export const SQA_OPTIONS = ['A', 'B', 'C', 'D', 'E'] as const;

/** The option letter the reference reads from a reply, or 'FAILED'. */
export function sqaParseAnswer(text: string): string {
  if ((SQA_OPTIONS as readonly string[]).includes(text)) return text;
  if (text.length >= 3 && (SQA_OPTIONS as readonly string[]).includes(text[0]!) && text.slice(1, 3) === '. ')
    return text[0]!;
  const matches = [...text.matchAll(/The answer is ([A-Z])[^\n]/g)];
  return matches.length === 1 ? matches[0]![1]! : 'FAILED';
}

/** get_pred_idx: the letter's index among the problem's choices, or -1. */
export function sqaPredIndex(prediction: string, choices: number): number {
  return (SQA_OPTIONS.slice(0, choices) as readonly string[]).indexOf(prediction);
}

export interface SqaProblemResult {
  question_id: string;
  parsed_ans: string;
  ground_truth: string;
  question: string;
  pred: string;
  is_multimodal: boolean;
  pred_idx: number;
  correct: boolean;
}

export interface SqaResult {
  total: number;
  correct: number;
  /** correct / total * 100 */
  accuracy: number;
  imgTotal: number;
  imgCorrect: number;
  problems: SqaProblemResult[];
}

interface Problem {
  choices: unknown[];
  answer: number;
}

export function evalScienceQA(baseDir: string, resultFile: string, split = 'test'): SqaResult {
  const readJson = (name: string) => {
    const path = join(baseDir, name);
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`cannot read ${path} (${(err as Error).message})`);
    }
  };
  const splits = readJson('pid_splits.json');
  const problems = readJson('problems.json');
  const ids = splits[split];
  if (!Array.isArray(ids)) throw new Error(`${join(baseDir, 'pid_splits.json')} has no split "${split}"`);
  const predictions = new Map<string, Record<string, unknown>>();
  for (const { line, record } of readJsonlObjects(resultFile)) {
    if (typeof record.text !== 'string' || typeof record.prompt !== 'string')
      throw new Error(`${resultFile}:${line}: an answer needs string "text" and "prompt"`);
    if (typeof record.question_id === 'string') predictions.set(record.question_id, record);
  }

  const results: SqaProblemResult[] = [];
  for (const id of new Set(ids as string[])) {
    const problem = problems[id] as Problem | undefined;
    if (!problem || !Array.isArray(problem.choices) || typeof problem.answer !== 'number')
      throw new Error(`problems.json: problem "${id}" (in split ${split}) is missing or has no choices/answer`);
    const prediction = predictions.get(id);
    const pred = prediction === undefined ? 'FAILED' : (prediction.text as string);
    const prompt = prediction === undefined ? 'Unknown' : (prediction.prompt as string);
    const parsed = sqaParseAnswer(pred);
    const predIdx = sqaPredIndex(parsed, problem.choices.length);
    results.push({
      question_id: id,
      parsed_ans: parsed,
      ground_truth: SQA_OPTIONS[problem.answer]!,
      question: prompt,
      pred,
      is_multimodal: prompt.includes('<image>'),
      pred_idx: predIdx,
      correct: predIdx === problem.answer,
    });
  }
  const correct = results.filter((r) => r.correct).length;
  const img = results.filter((r) => r.is_multimodal);
  return {
    total: results.length,
    correct,
    accuracy: (correct / results.length) * 100,
    imgTotal: img.length,
    imgCorrect: img.filter((r) => r.correct).length,
    problems: results,
  };
}

/** The script's printed line. */
export function formatScienceQA(r: SqaResult): string {
  if (r.total === 0) throw new Error('ScienceQA: the split has no problems (the reference divides by zero)');
  if (r.imgTotal === 0) throw new Error('ScienceQA: no prompt contains <image>: IMG-Accuracy is undefined');
  const img = (r.imgCorrect / r.imgTotal) * 100;
  return `Total: ${r.total}, Correct: ${r.correct}, Accuracy: ${pythonFixed(r.accuracy, 2)}%, IMG-Accuracy: ${pythonFixed(img, 2)}%\n`;
}

/** The script's --output-file document ({correct, incorrect}) and --output-result document. */
export function scienceQAOutputs(r: SqaResult): { output: PyValue; result: PyValue } {
  const analysis = (p: SqaProblemResult) => ({
    question_id: p.question_id,
    parsed_ans: p.parsed_ans,
    ground_truth: p.ground_truth,
    question: p.question,
    pred: p.pred,
    is_multimodal: p.is_multimodal,
  });
  const output = {
    correct: r.problems.filter((p) => p.correct).map(analysis),
    incorrect: r.problems.filter((p) => !p.correct).map(analysis),
  };
  const result = {
    acc: new PyFloat(r.accuracy),
    correct: r.correct,
    count: r.total,
    results: new Map(r.problems.map((p) => [p.question_id, p.pred_idx])),
    outputs: new Map(r.problems.map((p) => [p.question_id, p.pred])),
  };
  return { output, result };
}
