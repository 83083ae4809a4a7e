// VQA soft accuracy as the reference's TextVQAAccuracyEvaluator computes it: the 10 ground-truth
// answers normalised; for each distinct one, at each of the 10 positions, min(1, matches among
// the other 9 / 3), summed left to right and divided by 10 (the order shows in the last bit: two
// matches give 0.6, 0.6000000000000001 or 0.5999999999999999 by position). The prediction
// scores its normalised answer's value, or 0. Plus eval_textvqa.py: the question read back from
// the prompt, joined with the annotations on (image_id, lower-cased question).

import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { readJsonlObjects } from './jsonl.js';
import { pythonFixed } from './python-float.js';
import { vqaNormalize } from './vqa-normalize.js';

/** {normalised answer: soft score} over the 10 ground-truth answers. */
export function vqaAnswerScores(gtAnswers: string[]): Map<string, number> {
  if (gtAnswers.length !== 10) throw new Error(`VQA: expected 10 ground-truth answers, got ${gtAnswers.length}`);
  const answers = gtAnswers.map(vqaNormalize);
  const scores = new Map<string, number>();
  for (const unique of new Set(answers)) {
    let sum = 0;
    for (let i = 0; i < answers.length; i++) {
      const matches = answers.filter((a, j) => j !== i && a === unique).length;
      sum += Math.min(1, matches / 3);
    }
    scores.set(unique, sum / answers.length);
  }
  return scores;
}

export function vqaScore(predAnswer: string, gtAnswers: string[]): number {
  return vqaAnswerScores(gtAnswers).get(vqaNormalize(predAnswer)) ?? 0;
}

/** eval_pred_list: the mean score, summed left to right. */
export function vqaAccuracy(entries: { predAnswer: string; gtAnswers: string[] }[]): number {
  let sum = 0;
  for (const e of entries) sum += vqaScore(e.predAnswer, e.gtAnswers);
  return sum / entries.length;
}

/** eval_textvqa.py's prompt_processor: the question inside one of the four prompt forms, lower-cased. */
export function textVqaQuestion(prompt: string): string {
  const lines = prompt.split('\n');
  let question: string | undefined;
  if (prompt.startsWith('OCR tokens: ')) question = /Question: ([\s\S]*?) Short answer:/.exec(prompt)?.[1];
  else if (prompt.includes('Reference OCR token: ') && lines.length === 3)
    question = prompt.startsWith('Reference OCR token:') ? lines[1] : lines[0];
  else if (lines.length === 2) question = lines[0];
  if (question === undefined)
    throw new Error(`TextVQA: the prompt has none of the known forms: ${JSON.stringify(prompt.slice(0, 80))}`);
  return question.toLowerCase();
}

export interface TextVqaResult {
  name: string;
  samples: number;
  accuracy: number;
}

/** eval_single: one result file against a TextVQA annotation file ({data: [...]}). */
export function evalTextVqa(annotationFile: string, resultFile: string): TextVqaResult {
  let data: { image_id: unknown; question: string; answers: string[] }[];
  try {
    data = (JSON.parse(readFileSync(annotationFile, 'utf8')) as { data: typeof data }).data;
  } catch (err) {
    throw new Error(`cannot read ${annotationFile} (${(err as Error).message})`);
  }
  if (!Array.isArray(data)) throw new Error(`${annotationFile}: expected {"data": [...]} (the TextVQA layout)`);
  const key = (imageId: unknown, question: string) => JSON.stringify([imageId, question]);
  const annotations = new Map(data.map((a) => [key(a.image_id, a.question.toLowerCase()), a]));
  const entries = readJsonlObjects(resultFile).map(({ line, record }) => {
    const annotation = annotations.get(key(record.question_id, textVqaQuestion(String(record.prompt))));
    if (!annotation) throw new Error(`${resultFile}:${line}: no annotation for this image and question`);
    return { predAnswer: String(record.text), gtAnswers: annotation.answers };
  });
  return { name: basename(resultFile, extname(resultFile)), samples: entries.length, accuracy: vqaAccuracy(entries) };
}

export function formatTextVqa(r: TextVqaResult): string {
  return `${r.name}\nSamples: ${r.samples}\nAccuracy: ${pythonFixed(100 * r.accuracy, 2)}%\n\n`;
}
