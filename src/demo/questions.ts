// Short-answer questions with their true answers, in LLaVA-1.5's academic-VQA style (the question plus
// "Answer the question using a single word or phrase."):
//   - the held-out exact-match set: colour, count (digits), position (left/right, only when the object is clearly
//     on one side) and existence in POPE's form, one "yes" and one "no" per image so the set is exactly balanced;
//     half the negatives name a shape that is there in another colour (the adversarial kind), half a pair absent;
//   - the stage-2 training mix: the same kinds over train scenes, several turns per image.
// Files: the question file of the answer scripts (question_id, image, text, category) plus kind and answer, and
// POPE label files (coco_pope_existence.json: question_id, image, text, label) for `llava eval pope`.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { permutation, rng } from '../data/rng.js';
import type { InstructionRecord } from '../datagen/record.js';
import { WORLD } from './config.js';
import { article, picker, type Pick } from './phrases.js';
import { objectWith, sceneIndex, zone, type Scene } from './scene.js';

export const SHORT_ANSWER_SUFFIX = '\nAnswer the question using a single word or phrase.';
export const QUESTION_KINDS = ['colour', 'count', 'position', 'existence'] as const;
export type QuestionKind = (typeof QUESTION_KINDS)[number];

export interface ShortQuestion {
  kind: QuestionKind;
  /** Without the suffix. */
  question: string;
  answer: string;
}

export const colourQuestion = (scene: Scene, pick: Pick): ShortQuestion => {
  const o = pick(scene.objects);
  return { kind: 'colour', question: `What colour is the ${o.shape}?`, answer: o.colour };
};

export const countQuestion = (scene: Scene): ShortQuestion => ({
  kind: 'count',
  question: 'How many shapes are in the image?',
  answer: String(scene.objects.length),
});

export function positionQuestion(scene: Scene, pick: Pick): ShortQuestion | undefined {
  const sided = scene.objects.filter((o) => zone(o.box).h !== 'middle');
  if (sided.length === 0) return undefined;
  const o = pick(sided);
  return {
    kind: 'position',
    question: `Is the ${o.shape} on the left or the right of the image?`,
    answer: zone(o.box).h,
  };
}

const existence = (colour: string, shape: string, answer: 'yes' | 'no'): ShortQuestion => ({
  kind: 'existence',
  question: `Is there ${article(`${colour} ${shape}`)} in the image?`,
  answer,
});

/** One present pair and one absent pair; `adversarial` makes the absent one a present shape in another colour. */
export function existencePair(scene: Scene, pick: Pick, adversarial: boolean): [ShortQuestion, ShortQuestion] {
  const o = pick(scene.objects);
  const yes = existence(o.colour, o.shape, 'yes');
  const absent = WORLD.shapes.flatMap((shape) =>
    WORLD.colours.filter((c) => objectWith(scene, shape)?.colour !== c).map((colour) => ({ shape, colour })),
  );
  const otherColour = absent.filter((p) => objectWith(scene, p.shape)); // never empty: the scene has a shape
  const newShape = absent.filter((p) => !objectWith(scene, p.shape)); // empty when every shape is there
  const n = pick(adversarial || newShape.length === 0 ? otherColour : newShape);
  return [yes, existence(n.colour, n.shape, 'no')];
}

/** The questions one image gets in the exact-match set, in a fixed kind order. */
function evalQuestions(scene: Scene, pick: Pick, adversarial: boolean): ShortQuestion[] {
  const position = positionQuestion(scene, pick);
  return [
    colourQuestion(scene, pick),
    countQuestion(scene),
    ...(position ? [position] : []),
    ...existencePair(scene, pick, adversarial),
  ];
}

/** A line of the question file. */
export interface QuestionLine {
  question_id: number;
  image: string;
  text: string;
  category: QuestionKind;
  kind: QuestionKind;
  answer: string;
}

/** The held-out exact-match questions; ids count from 0 in image order. Adversarial negatives alternate by image. */
export function exactMatchQuestions(scenes: Scene[], seed: number): QuestionLine[] {
  const lines: QuestionLine[] = [];
  scenes.forEach((scene, i) => {
    const pick = picker(rng(seed, sceneIndex(scene.id), 2));
    for (const q of evalQuestions(scene, pick, i % 2 === 0)) {
      const text = q.question + SHORT_ANSWER_SUFFIX;
      lines.push({
        question_id: lines.length,
        image: `${scene.id}.png`,
        text,
        category: q.kind,
        kind: q.kind,
        answer: q.answer,
      });
    }
  });
  return lines;
}

const jsonl = (rows: unknown[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

/** Writes `<dir>/questions.jsonl` and `<dir>/pope/coco_pope_existence.json`; returns their paths. */
export function writeExactMatch(dir: string, lines: QuestionLine[]): { questions: string; popeDir: string } {
  const questions = join(dir, 'questions.jsonl');
  writeFileSync(questions, jsonl(lines));
  const popeDir = join(dir, 'pope');
  mkdirSync(popeDir, { recursive: true });
  const labels = lines
    .filter((l) => l.kind === 'existence')
    .map(({ question_id, image, text, answer }) => ({ question_id, image, text, label: answer }));
  writeFileSync(join(popeDir, 'coco_pope_existence.json'), jsonl(labels));
  return { questions, popeDir };
}

/**
 * The short-answer training mix: per train image, every kind (colour of each object, count, position when clear,
 * one yes and one no), shuffled, at most `turns` of them, as one multi-turn record with `<image>` in the first turn.
 */
export function shortAnswerRecords(scenes: Scene[], seed: number, turns = 6): InstructionRecord[] {
  return scenes.map((scene, i) => {
    const next = rng(seed, sceneIndex(scene.id), 3);
    const pick = picker(next);
    const colours = scene.objects.map((o) => ({
      kind: 'colour' as const,
      question: `What colour is the ${o.shape}?`,
      answer: o.colour,
    }));
    const position = positionQuestion(scene, pick);
    const all = [
      ...colours,
      countQuestion(scene),
      ...(position ? [position] : []),
      ...existencePair(scene, pick, i % 2 === 0),
    ];
    const chosen = permutation(all.length, next)
      .slice(0, turns)
      .map((k) => all[k]!);
    return {
      id: scene.id,
      image: `${scene.id}.png`,
      conversations: chosen.flatMap((q, t) => [
        { from: 'human' as const, value: `${t === 0 ? '<image>\n' : ''}${q.question}${SHORT_ANSWER_SUFFIX}` },
        { from: 'gpt' as const, value: q.answer },
      ]),
    };
  });
}
