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
import { conversationTemplate, renderPrompt } from '../text/conversation.js';
import type { Turn } from '../text/image-placement.js';
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

/**
 * The LLaMA's conversations, as Vicuna learnt ShareGPT's: `copies` per scene (each with its own draw of questions),
 * with the scene's inventory caption where stage 2 puts the image and up to `turns` short-answer questions about
 * it. So the LLM learns to answer from what precedes the question (which shape has which colour, where, how many),
 * and stages 1 and 2 only have to make the image read like that caption. As turns, scene by scene, copy after copy.
 */
export function sceneConversationTurns(scenes: Scene[], seed: number, copies: number, turns: number): Turn[][] {
  const captions = scenes.map((scene) => sceneContext(scene, seed).captions[0]!);
  return Array.from({ length: copies }, (_, copy) =>
    shortAnswerRecords(scenes, seed + 1 + copy, turns).map((record, i) =>
      record.conversations.map((turn) => ({ ...turn, value: turn.value.replace('<image>', captions[i]!) })),
    ),
  ).flat();
}

/** sceneConversationTurns rendered in stage 2's v1 template, without the final </s> (the LLM's corpus adds it). */
export function sceneConversations(scenes: Scene[], seed: number, copies: number, turns: number): string[] {
  const template = conversationTemplate('vicuna_v1');
  return sceneConversationTurns(scenes, seed, copies, turns).map((conversation) => {
    const messages = conversation.map((turn, k) => ({ role: template.roles[k % 2]!, content: turn.value }));
    return renderPrompt(template, messages).slice(0, -template.sep2!.length);
  });
}
