// A parsed reply becomes one LLaVA instruction record (spec §1.1): {id, image, conversations},
// turns alternating human/gpt, `<image>` once, in the first human turn. The id is the image id,
// as in the released per-type files (conversation_58k.json, detail_23k.json, ...).
// Placement is the training data code's option (src/text/image-placement.ts), so generated data
// and training agree on what `first` and `random` mean; `keep` has nothing to keep here.

import { placeImage, type ImagePlacement } from '../text/image-placement.js';
import { DEFAULT_IMAGE_TOKEN } from '../text/image-token.js';
import type { ImageContext } from './context.js';
import type { Turn } from './parse.js';
import type { PromptType } from './prompts.js';
import { seededIndex } from './seeded.js';

export type DatagenPlacement = Exclude<ImagePlacement, 'keep'>;
export const DATAGEN_PLACEMENTS: readonly DatagenPlacement[] = ['first', 'random'];

export interface InstructionRecord {
  id: string;
  image: string;
  conversations: { from: 'human' | 'gpt'; value: string }[];
}

/**
 * `first`: "<image>\n<question>"; `random`: that or "<question>\n<image>", drawn per
 * (seed, type, id), so a record gets the same side in every run.
 */
export function toInstructionRecord(
  context: ImageContext,
  turns: Turn[],
  placement: DatagenPlacement,
  seed: number,
  type: PromptType,
): InstructionRecord {
  const conversations = turns.flatMap(({ question, answer }, i) => [
    { from: 'human' as const, value: i === 0 ? `${DEFAULT_IMAGE_TOKEN}\n${question}` : question },
    { from: 'gpt' as const, value: answer },
  ]);
  const coin = () => seededIndex(2, seed, type, context.id, 'image-placement') === 1;
  return {
    id: context.id,
    image: context.image,
    conversations: placeImage(conversations, { placement, coin }) as InstructionRecord['conversations'],
  };
}
