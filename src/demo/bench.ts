// LLaVA-Bench over the held-out scenes, in qa90's form: per image a "conv" question (a single fact), a "detail"
// request and a "complex" question, as the files llava eval reference / judge read:
//   questions.jsonl  {"question_id", "image", "text", "category"}   (ids count from 0, three per image)
//   context.jsonl    the images' caps/boxes lines (captions and boxes: the judge's and the reference's context)

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rng } from '../data/rng.js';
import { picker } from './phrases.js';
import { COMPLEX_TEMPLATES } from './reasoning.js';
import { sceneIndex, type Scene } from './scene.js';
import { TEMPLATES } from './truth.js';
import { contextLine, sceneContext } from './world.js';

export const DETAIL_REQUESTS = [
  'Describe the following image.',
  'Describe the image in detail.',
  'What is this image about?',
] as const;

export interface BenchQuestion {
  question_id: number;
  image: string;
  text: string;
  category: 'conv' | 'detail' | 'complex';
}

export function benchQuestions(scenes: Scene[], seed: number): BenchQuestion[] {
  const out: BenchQuestion[] = [];
  for (const scene of scenes) {
    const pick = picker(rng(seed, sceneIndex(scene.id), 4));
    const asked = (templates: typeof TEMPLATES) =>
      pick(templates.map((t) => t.ask(scene, pick)).filter((q): q is string => q !== undefined));
    const image = `${scene.id}.png`;
    for (const [category, text] of [
      ['conv', asked(TEMPLATES)],
      ['detail', pick(DETAIL_REQUESTS)],
      ['complex', asked(COMPLEX_TEMPLATES)],
    ] as const)
      out.push({ question_id: out.length, image, text, category });
  }
  return out;
}

/** Writes `<dir>/questions.jsonl` and `<dir>/context.jsonl`; returns their paths. */
export function writeBench(dir: string, scenes: Scene[], seed: number): { questions: string; context: string } {
  const questions = join(dir, 'questions.jsonl');
  const context = join(dir, 'context.jsonl');
  writeFileSync(
    questions,
    benchQuestions(scenes, seed)
      .map((q) => `${JSON.stringify(q)}\n`)
      .join(''),
  );
  writeFileSync(context, scenes.map((s) => `${contextLine(sceneContext(s, seed))}\n`).join(''));
  return { questions, context };
}
