// The human turn of a detailed-description record is not written by the model: it is one of a
// fixed list of "describe in detail" phrasings (paper appendix, Table 9; spec §2.5), drawn with
// the run's seed. A data set with another style can pass its own list (one per line).

import { readFile } from 'node:fs/promises';

export const DETAIL_INSTRUCTIONS: readonly string[] = [
  'Describe the following image in detail',
  'Provide a detailed description of the given image',
  'Give an elaborate explanation of the image you see',
  'Share a comprehensive rundown of the presented image',
  'Offer a thorough analysis of the image',
  'Explain the various aspects of the image before you',
  'Clarify the contents of the displayed image with great detail',
  'Characterize the image using a well-detailed description',
  'Break down the elements of the image in a detailed manner',
  'Walk through the important details of the image',
  'Portray the image with a rich, descriptive narrative',
  'Narrate the contents of the image with precision',
  'Analyze the image in a comprehensive and detailed manner',
  'Illustrate the image through a descriptive explanation',
  'Examine the image closely and share its details',
  'Write an exhaustive depiction of the given image',
];

/** One instruction per non-blank line; surrounding whitespace is not part of an instruction. */
export async function loadInstructions(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(
      `instructions: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  const list = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (list.length === 0) throw new Error(`instructions: ${path} has no instructions (one per line expected)`);
  return list;
}
