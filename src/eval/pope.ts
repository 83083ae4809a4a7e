// POPE as LLaVA's eval_pope.py scores it. For each annotation file coco_pope_<c>.json (JSON
// lines with `label`), the answers whose question has category <c>, in answer-file order. The
// yes/no rule: the text before the first '.', commas deleted, split on ' '; "no" if a word is
// exactly No, not or no, else "yes". Labels: 'no' is 0, anything else 1. The reference pairs
// labels with answers by position (zip: the shorter list bounds it) and counts yes_ratio over
// all the category's answers. `byId` pairs each answer with the label of its own question
// instead, and counts yes_ratio over the paired answers: POPE's label files number their
// questions per category, not as the question file does, so a question is identified by its image
// and its text up to the first newline (the question file appends the short-answer suffix).

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonlObjects } from './jsonl.js';
import { pythonFixed, pythonFloatStr } from './python-float.js';

export function popeAnswer(text: string): 'yes' | 'no' {
  const firstSentence = text.includes('.') ? text.split('.')[0]! : text;
  const words = firstSentence.replaceAll(',', '').split(' ');
  return words.includes('No') || words.includes('not') || words.includes('no') ? 'no' : 'yes';
}

export interface PopeMetrics {
  category: string;
  samples: number;
  TP: number;
  FP: number;
  TN: number;
  FN: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  yesRatio: number;
  /** Answers without a label (by-id mode only). */
  unlabelled: number;
}

/** An answer or a label, with the identity of its question (image and first line of the text). */
export interface PopeItem {
  question: string;
  text: string;
}
export interface PopeLabel {
  question: string;
  label: unknown;
}

export function popeQuestionKey(image: unknown, text: unknown): string {
  return JSON.stringify([image, String(text).split('\n')[0]]);
}

export function popeMetrics(category: string, answers: PopeItem[], labels: PopeLabel[], byId = false): PopeMetrics {
  const preds = answers.map((a) => (popeAnswer(a.text) === 'no' ? 0 : 1));
  const truth = labels.map((l) => (l.label === 'no' ? 0 : 1));
  let pairs: [number, number][];
  let unlabelled = 0;
  if (byId) {
    const labelOf = new Map(labels.map((l, i) => [l.question, truth[i]!]));
    pairs = [];
    answers.forEach((a, i) => {
      const label = labelOf.get(a.question);
      if (label === undefined) unlabelled++;
      else pairs.push([preds[i]!, label]);
    });
  } else pairs = preds.slice(0, truth.length).map((p, i) => [p, truth[i]!]);
  const counted = byId ? pairs.map(([p]) => p) : preds;
  const count = (p: number, l: number) => pairs.filter(([a, b]) => a === p && b === l).length;
  const TP = count(1, 1);
  const FP = count(1, 0);
  const TN = count(0, 0);
  const FN = count(0, 1);
  if (TP + FP === 0 || TP + FN === 0 || TP === 0)
    throw new Error(
      `POPE ${category}: TP=${TP} FP=${FP} FN=${FN}: precision, recall or F1 divides by zero (as in the reference)`,
    );
  const precision = TP / (TP + FP);
  const recall = TP / (TP + FN);
  return {
    category,
    samples: answers.length,
    TP,
    FP,
    TN,
    FN,
    accuracy: (TP + TN) / (TP + TN + FP + FN),
    precision,
    recall,
    f1: (2 * precision * recall) / (precision + recall),
    yesRatio: counted.filter((p) => p === 1).length / counted.length,
    unlabelled,
  };
}

/** One category's block of the script's stdout. */
export function formatPope(m: PopeMetrics): string {
  const f = pythonFloatStr;
  const short = [m.f1, m.accuracy, m.precision, m.recall, m.yesRatio].map((x) => pythonFixed(x, 3)).join(', ');
  return (
    `Category: ${m.category}, # samples: ${m.samples}\n` +
    `TP\tFP\tTN\tFN\t\n${m.TP}\t${m.FP}\t${m.TN}\t${m.FN}\n` +
    `Accuracy: ${f(m.accuracy)}\nPrecision: ${f(m.precision)}\nRecall: ${f(m.recall)}\nF1 score: ${f(m.f1)}\n` +
    `Yes ratio: ${f(m.yesRatio)}\n${short}\n` +
    (m.unlabelled > 0 ? `Answers without a label: ${m.unlabelled}\n` : '') +
    '====================================\n'
  );
}

export interface PopeFiles {
  annotationDir: string;
  questionFile: string;
  resultFile: string;
  byId?: boolean;
}

/** Every category of the annotation folder, in sorted order (the reference: os.listdir order). */
export function evalPope(o: PopeFiles): PopeMetrics[] {
  const questions = new Map<unknown, Record<string, unknown>>();
  for (const { record } of readJsonlObjects(o.questionFile)) questions.set(record.question_id, record);
  const answers = readJsonlObjects(o.resultFile).map(({ line, record }) => {
    if (typeof record.text !== 'string') throw new Error(`${o.resultFile}:${line}: the answer has no string "text"`);
    const q = questions.get(record.question_id);
    if (!q)
      throw new Error(
        `${o.resultFile}:${line}: question_id ${JSON.stringify(record.question_id)} is not in ${o.questionFile}`,
      );
    return { question: popeQuestionKey(q.image, q.text), text: record.text, category: q.category };
  });
  return readdirSync(o.annotationDir)
    .sort()
    .map((file) => {
      const match = /^coco_pope_(.*)\.json$/.exec(file);
      if (!match)
        throw new Error(`${join(o.annotationDir, file)}: annotation files must be named coco_pope_<category>.json`);
      const category = match[1]!;
      const labels = readJsonlObjects(join(o.annotationDir, file)).map(({ record }) => ({
        question: popeQuestionKey(record.image, record.text),
        label: record.label,
      }));
      return popeMetrics(
        category,
        answers.filter((a) => a.category === category),
        labels,
        o.byId,
      );
    });
}
