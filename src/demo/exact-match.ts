// Scoring the held-out short answers per kind, with the project's ports of the reference's rules: existence as
// eval_pope.py reads yes/no (popeAnswer), the other kinds as VQA's EvalAI normalisation compares answers
// ("Red." = "red", "three" = "3"). Chance is what guessing uniformly among the world's possible answers scores:
// the level a model that cannot see the image should sit at.

import { popeAnswer } from '../eval/pope.js';
import { vqaNormalize } from '../eval/vqa-normalize.js';
import { WORLD } from './config.js';
import { QUESTION_KINDS, type QuestionKind, type QuestionLine } from './questions.js';

export const CHANCE: Record<QuestionKind, number> = {
  colour: 1 / WORLD.colours.length,
  count: 1 / WORLD.maxObjects,
  position: 1 / 2,
  existence: 1 / 2,
};

export function isCorrect(line: QuestionLine, text: string): boolean {
  if (line.kind === 'existence') return popeAnswer(text) === line.answer;
  return vqaNormalize(text) === vqaNormalize(line.answer);
}

export interface KindScore {
  correct: number;
  total: number;
  accuracy: number;
}

/** Accuracy per kind; `answers` maps question_id to the model's text (a missing answer counts as wrong). */
export function exactMatchScores(lines: QuestionLine[], answers: Map<number, string>): Record<QuestionKind, KindScore> {
  const scores = Object.fromEntries(QUESTION_KINDS.map((k) => [k, { correct: 0, total: 0, accuracy: 0 }])) as Record<
    QuestionKind,
    KindScore
  >;
  for (const line of lines) {
    const s = scores[line.kind];
    s.total++;
    const text = answers.get(line.question_id);
    if (text !== undefined && isCorrect(line, text)) s.correct++;
  }
  for (const s of Object.values(scores)) s.accuracy = s.total ? s.correct / s.total : 0;
  return scores;
}
