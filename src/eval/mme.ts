// MME scores as the benchmark's own eval_tool/calculation.py computes them, from its results
// folder: one <task>.txt per subtask, lines "image<TAB>question<TAB>ground truth<TAB>prediction",
// two questions per image on consecutive lines. A prediction is "yes"/"no" when it is exactly
// that (lower-cased), else by which of them occurs in its first 4 characters, else "other".
// Per task: accuracy = correct questions / questions, accuracy+ = images with both questions
// correct / images, score = 100 * accuracy + 100 * accuracy+ (max 200); per group (Perception,
// Cognition) the scores summed in the tool's task order. (LLaVA's convert_answer_to_mme.py writes
// this folder from an answer file.)

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pythonFloatStr } from './python-float.js';

export const MME_TASKS = {
  Perception: [
    'existence',
    'count',
    'position',
    'color',
    'posters',
    'celebrity',
    'scene',
    'landmark',
    'artwork',
    'OCR',
  ],
  Cognition: ['commonsense_reasoning', 'numerical_calculation', 'text_translation', 'code_reasoning'],
} as const;

export function mmeAnswer(prediction: string): 'yes' | 'no' | 'other' {
  const p = prediction.toLowerCase();
  if (p === 'yes' || p === 'no') return p;
  const prefix = p.slice(0, 4);
  return prefix.includes('yes') ? 'yes' : prefix.includes('no') ? 'no' : 'other';
}

export interface MmeTask {
  task: string;
  questions: number;
  images: number;
  correct: number;
  bothCorrect: number;
  /** Predictions that are neither yes nor no. */
  other: number;
  accuracy: number;
  accuracyPlus: number;
  score: number;
}

export function mmeTask(task: string, text: string, source: string): MmeTask {
  // readlines(): each line keeps its '\n', so the prediction field ends with it (harmless: the
  // yes/no rule looks at the first 4 characters).
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  if (lines.length % 2 !== 0) throw new Error(`${source}: ${lines.length} lines; MME has two questions per image`);
  let correct = 0;
  let bothCorrect = 0;
  let other = 0;
  for (let i = 0; i < lines.length; i += 2) {
    let imageCorrect = 0;
    for (const [k, line] of [lines[i]!, lines[i + 1]!].entries()) {
      const fields = line.split('\t');
      if (fields.length !== 4)
        throw new Error(`${source}:${i + k + 1}: expected image, question, answer, prediction separated by tabs`);
      const truth = fields[2]!.toLowerCase();
      if (truth !== 'yes' && truth !== 'no')
        throw new Error(`${source}:${i + k + 1}: the ground truth must be yes or no, got ${JSON.stringify(fields[2])}`);
      const pred = mmeAnswer(fields[3]!);
      if (pred === truth) imageCorrect++;
      if (pred === 'other') other++;
    }
    correct += imageCorrect;
    if (imageCorrect === 2) bothCorrect++;
  }
  const accuracy = correct / lines.length;
  const accuracyPlus = bothCorrect / (lines.length / 2);
  return {
    task,
    questions: lines.length,
    images: lines.length / 2,
    correct,
    bothCorrect,
    other,
    accuracy,
    accuracyPlus,
    score: accuracy * 100 + accuracyPlus * 100,
  };
}

export interface MmeGroup {
  group: keyof typeof MME_TASKS;
  tasks: MmeTask[];
  /** Tasks of the group without a file in the folder (left out of the total). */
  missing: string[];
  total: number;
}

/** Scores from the results' text per task (a task missing from `results` is left out of its group's total). */
export function mmeScores(results: Map<string, { text: string; source: string }>): MmeGroup[] {
  const groups = Object.entries(MME_TASKS).map(([group, names]): MmeGroup => {
    const tasks: MmeTask[] = [];
    const missing: string[] = [];
    for (const name of names) {
      const result = results.get(name);
      if (result) tasks.push(mmeTask(name, result.text, result.source));
      else missing.push(name);
    }
    const total = tasks.reduce((sum, t) => sum + t.score, 0);
    return { group: group as MmeGroup['group'], tasks, missing, total };
  });
  const known = new Set<string>(Object.values(MME_TASKS).flat());
  const unknown = [...results.keys()].filter((t) => !known.has(t));
  if (unknown.length > 0) throw new Error(`MME: unknown task(s) ${unknown.join(', ')}`);
  if (groups.every((g) => g.tasks.length === 0))
    throw new Error('MME: no task results (<task>.txt, e.g. existence.txt)');
  return groups.filter((g) => g.tasks.length > 0);
}

/** Scores from MME's results folder: <task>.txt per task. */
export function evalMme(resultsDir: string): MmeGroup[] {
  const results = new Map<string, { text: string; source: string }>();
  for (const name of Object.values(MME_TASKS).flat()) {
    const path = join(resultsDir, `${name}.txt`);
    if (existsSync(path)) results.set(name, { text: readFileSync(path, 'utf8'), source: path });
  }
  if (results.size === 0) throw new Error(`${resultsDir}: no MME task file (<task>.txt, e.g. existence.txt)`);
  return mmeScores(results);
}

/** A table per group: total, then each task's score, accuracy and accuracy+. */
export function formatMme(groups: MmeGroup[]): string {
  let out = '';
  for (const g of groups) {
    out += `=========== ${g.group} ===========\ntotal score: ${pythonFloatStr(g.total)}\n`;
    for (const t of g.tasks)
      out += `  ${t.task.padEnd(22)} score ${pythonFloatStr(t.score).padEnd(20)} acc ${pythonFloatStr(t.accuracy * 100).padEnd(20)} acc+ ${pythonFloatStr(t.accuracyPlus * 100)}\n`;
    if (g.missing.length > 0) out += `  missing (not in the total): ${g.missing.join(', ')}\n`;
  }
  return out;
}
