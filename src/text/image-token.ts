// The `<image>` rule of the reference (`tokenizer_image_token`, llava/mm_utils.py; spec §4.2): split the prompt on
// the literal placeholder, tokenize every piece on its own (each gets BOS and its own dummy prefix), keep BOS once,
// and put the image id between pieces.
import type { TextTokenizer } from './tokenizer.js';

export const DEFAULT_IMAGE_TOKEN = '<image>';
/** The original convention: a sentinel id in input_ids that is never embedded. */
export const IMAGE_TOKEN_INDEX = -200;
export const IGNORE_INDEX = -100;

export interface ImageTokenOptions {
  /** -200 for LLaVA checkpoints; the `<image>` token's id (config.image_token_index) for llava-hf ones. */
  imageTokenId?: number;
  /** Ids per placeholder: 1 as in the reference; llava-hf processors that pre-expand use image_seq_length (576). */
  tokensPerImage?: number;
}

export function tokenizerImageToken(
  tokenizer: TextTokenizer,
  prompt: string,
  options: ImageTokenOptions = {},
): number[] {
  const imageIds = new Array<number>(options.tokensPerImage ?? 1).fill(options.imageTokenId ?? IMAGE_TOKEN_INDEX);
  const chunks = prompt.split(DEFAULT_IMAGE_TOKEN).map((chunk) => tokenizer.encode(chunk));
  // When the tokenizer adds BOS, every chunk starts with it: keep the first chunk's and drop one id from each chunk.
  const offset = chunks[0]!.length > 0 && chunks[0]![0] === tokenizer.bosId ? 1 : 0;
  const ids: number[] = offset ? [chunks[0]![0]!] : [];
  chunks.forEach((chunk, i) => {
    if (i > 0) ids.push(...imageIds);
    for (let k = offset; k < chunk.length; k++) ids.push(chunk[k]!);
  });
  return ids;
}

/** How many placeholders a string holds. */
export function countImageTokens(text: string): number {
  return text.split(DEFAULT_IMAGE_TOKEN).length - 1;
}
