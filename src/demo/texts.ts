// Every sentence the world can put in front of the language model, for building the stage-0 tokenizer and the
// LLM's text corpus: the captions, the short-answer questions and answers (evaluation and training mix), the
// benchmark's questions with their reference answers, and the teacher's replies of all three data-engine types
// (split into their questions and answers as the data engine parses them). `<image>` is left out: it is the
// tokenizer's special token, not text.

import { renderContext } from '../datagen/context.js';
import { DETAIL_INSTRUCTIONS } from '../datagen/instructions.js';
import { parseReply } from '../datagen/parse.js';
import { PROMPT_TYPES, usesBoxes } from '../datagen/prompts.js';
import { benchQuestions } from './bench.js';
import { exactMatchQuestions, shortAnswerRecords } from './questions.js';
import type { Scene } from './scene.js';
import { datagenReply, referenceReply } from './teacher-replies.js';
import { sceneContext } from './world.js';

export function worldTexts(scenes: Scene[], seed = 0): string[] {
  const texts: string[] = [...DETAIL_INSTRUCTIONS];
  for (const scene of scenes) {
    const ctx = sceneContext(scene, seed);
    texts.push(...ctx.captions);
    for (const type of PROMPT_TYPES) {
      const parsed = parseReply(type, datagenReply(type, renderContext(ctx, usesBoxes(type))));
      if (parsed.ok) for (const t of parsed.turns) texts.push(...(t.question ? [t.question] : []), t.answer);
    }
    const boxed = renderContext(ctx, true);
    for (const q of benchQuestions([scene], seed)) texts.push(q.text, referenceReply(boxed, q.text));
  }
  for (const q of exactMatchQuestions(scenes, seed)) texts.push(q.text, q.answer);
  for (const r of shortAnswerRecords(scenes, seed))
    for (const turn of r.conversations) texts.push(turn.value.replace('<image>\n', ''));
  return texts;
}
