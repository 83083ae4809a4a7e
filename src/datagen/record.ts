// A parsed reply becomes one LLaVA instruction record (spec §1.1): {id, image, conversations},
// turns alternating human/gpt, `<image>` once, in the first human turn. The id is the image id,
// as in the released per-type files (conversation_58k.json, detail_23k.json, ...).

import type { ImageContext } from './context.js';
import { placeImageToken, type ImagePlacement } from './image-token.js';
import type { Turn } from './parse.js';
import type { PromptType } from './prompts.js';
import { seededIndex } from './seeded.js';

export interface InstructionRecord {
  id: string;
  image: string;
  conversations: { from: 'human' | 'gpt'; value: string }[];
}

/** Placement `random` is drawn per (seed, type, id): the same record always gets the same side. */
export function resolvePlacement(placement: ImagePlacement, seed: number, type: PromptType, id: string): 'prefix' | 'suffix' {
  if (placement !== 'random') return placement;
  return seededIndex(2, seed, type, id, 'image-placement') === 0 ? 'prefix' : 'suffix';
}

export function toInstructionRecord(context: ImageContext, turns: Turn[], side: 'prefix' | 'suffix'): InstructionRecord {
  return {
    id: context.id,
    image: context.image,
    conversations: turns.flatMap(({ question, answer }, i) => [
      { from: 'human' as const, value: i === 0 ? placeImageToken(question, side) : question },
      { from: 'gpt' as const, value: answer },
    ]),
  };
}
