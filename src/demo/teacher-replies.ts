// What the offline teacher writes, as pure functions of the request text: the scene is rebuilt from the context
// in the prompt (captions, then "category: [x1, y1, x2, y2]" lines), and every phrasing choice is drawn from a
// hash of that context, so the same request always gets the same reply and different images different ones.

import { createHash } from 'node:crypto';
import { rng } from '../data/rng.js';
import type { ImageContext } from '../datagen/context.js';
import type { PromptType } from '../datagen/prompts.js';
import { picker, type Pick } from './phrases.js';
import { COMPLEX_TEMPLATES } from './reasoning.js';
import type { Scene } from './scene.js';
import { answerTruly, description, TEMPLATES } from './truth.js';
import { sceneFromContext } from './world.js';

/** The context text of a prompt back as captions and boxes (renderContext's and contextText's form). */
export function parseContextText(text: string): ImageContext {
  const [captionPart, boxPart = ''] = text.split(/\n\n(?=[^\n]*: \[)/);
  const instances = boxPart
    .split('\n')
    .map((line) => /^(.+): \[([^\]]*)\]$/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ category: m[1]!, bbox: m[2]!.split(',').map(Number) as [number, number, number, number] }));
  return { id: '', image: '', captions: captionPart!.split('\n').filter((c) => c.trim() !== ''), instances };
}

export function seededPick(...parts: string[]): Pick {
  const digest = createHash('sha256').update(parts.join('\0')).digest();
  return picker(rng(digest.readUInt32BE(0), digest.readUInt32BE(4)));
}

const pairs = (turns: { question: string; answer: string }[]) =>
  turns.map((t) => `Question:\n${t.question}\n===\nAnswer:\n${t.answer}`).join('\n===\n');

/** Several plain questions (distinct templates) and one harder one, as the conversation prompt asks. */
function conversation(scene: Scene, pick: Pick): string {
  const asked = TEMPLATES.map((t) => t.ask(scene, pick)).filter((q): q is string => q !== undefined);
  const turns: { question: string; answer: string }[] = [];
  while (turns.length < 4 && asked.length > 0) {
    const question = asked.splice(pick(asked.map((_, i) => i)), 1)[0]!;
    turns.push({ question, answer: answerTruly(scene, question, pick) });
  }
  const hard = complexQuestion(scene, pick);
  turns.push({ question: hard, answer: answerTruly(scene, hard, pick) });
  return pairs(turns);
}

function complexQuestion(scene: Scene, pick: Pick): string {
  return pick(COMPLEX_TEMPLATES.map((t) => t.ask(scene, pick)).filter((q): q is string => q !== undefined));
}

/** The reply to a data-engine request of `type` whose query context is `contextText`. */
export function datagenReply(type: PromptType, contextText: string): string {
  const scene = sceneFromContext(parseContextText(contextText));
  const pick = seededPick(type, contextText);
  if (type === 'detail_description') return description(scene, pick);
  if (type === 'conversation') return conversation(scene, pick);
  const question = complexQuestion(scene, pick);
  return pairs([{ question, answer: answerTruly(scene, question, pick) }]);
}

/** A reference answer (LLaVA-Bench's text-only GPT-4 answer) to `question` about the context. */
export function referenceReply(contextText: string, question: string): string {
  const scene = sceneFromContext(parseContextText(contextText));
  return answerTruly(scene, question, seededPick('reference', contextText, question));
}
