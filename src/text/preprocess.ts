// Training-time tokenisation and label masking, exactly as llava/train/train.py does it (spec §4.3-4.5):
// preprocess_v1 (vicuna_v1 / llava_v1), preprocess_llama_2 and preprocess_plain (stage 1). Input turns are the ones
// `placeImage` produced; output ids hold IMAGE_TOKEN_INDEX for the image and labels hold IGNORE_INDEX where masked.
import { renderPrompt, type ConversationTemplate, type Message } from './conversation.js';
import { DEFAULT_IMAGE_TOKEN, IGNORE_INDEX, tokenizerImageToken, type ImageTokenOptions } from './image-token.js';
import type { Turn } from './image-placement.js';
import type { TextTokenizer } from './tokenizer.js';

export interface Preprocessed {
  /** The full string that was tokenized. */
  prompt: string;
  inputIds: number[];
  labels: number[];
  /** Set when the reference's length check failed; every label is then IGNORE_INDEX (the sample carries no loss). */
  mismatch: { curLen: number; totalLen: number } | null;
}

export interface PreprocessOptions extends ImageTokenOptions {
  /** `"image" in sample`: selects the `<image>`-chunking tokenizer path, as the reference does. */
  hasImage: boolean;
  /** The pad id the length check ignores: LLaVA sets pad = unk (0 for LLaMA) for every version but v0. */
  padTokenId?: number;
  /** Defaults to the tokenizer's model_max_length. */
  modelMaxLength?: number;
}

/** Picks the reference's preprocess function from the template, as `preprocess()` does. */
export function preprocess(
  tokenizer: TextTokenizer,
  template: ConversationTemplate,
  turns: readonly Turn[],
  options: PreprocessOptions,
): Preprocessed {
  if (template.sepStyle === 'PLAIN') return preprocessPlain(tokenizer, turns, options);
  if (template.version.startsWith('llama_v2') || template.version.startsWith('v1'))
    return preprocessRounds(tokenizer, template, turns, options);
  throw new Error(
    `template '${template.name}' (version ${template.version}): training preprocessing is implemented for v1, llama_2 and plain templates`,
  );
}

/** `preprocess_v1` (TWO style) and `preprocess_llama_2`: supervise each assistant answer and its `</s>`. */
export function preprocessRounds(
  tokenizer: TextTokenizer,
  template: ConversationTemplate,
  turns: readonly Turn[],
  options: PreprocessOptions,
): Preprocessed {
  const maxLen = options.modelMaxLength ?? tokenizer.modelMaxLength;
  const prompt = renderPrompt(template, toMessages(template, turns));
  // Image samples are never truncated here (the collator does it); text-only ones are, by the tokenizer.
  const tokenize = (text: string) =>
    options.hasImage ? tokenizerImageToken(tokenizer, text, options) : tokenizer.encode(text, { maxLength: maxLen });
  const inputIds = tokenize(prompt);
  const labels = inputIds.slice();
  const padId = options.padTokenId ?? tokenizer.unkId;
  const totalLen = inputIds.reduce((n, id) => n + (id !== padId ? 1 : 0), 0);

  const v1 = template.sepStyle === 'TWO';
  const sep = v1 ? `${template.sep}${template.roles[1]}: ` : '[/INST] ';
  // Non-legacy tokenizers put no dummy `▁` after `</s>`, so rounds after the first are one token shorter in context.
  const legacyCorrection = v1 && !tokenizer.legacy ? 1 : 0;
  let curLen = 1; // BOS
  mask(labels, 0, curLen);
  const rounds = prompt.split(template.sep2!);
  for (let i = 0; i < rounds.length; i++) {
    const round = rounds[i]!;
    if (round === '') break;
    const parts = round.split(sep);
    if (parts.length !== 2) break;
    let roundLen = tokenize(round).length;
    // -2: BOS, and the lone `▁` the trailing space of the separator becomes when tokenized alone.
    let instructionLen = tokenize(parts[0] + sep).length - 2;
    if (i !== 0) {
      roundLen -= legacyCorrection;
      instructionLen -= legacyCorrection;
    }
    mask(labels, curLen, curLen + instructionLen);
    curLen += roundLen;
  }
  mask(labels, curLen, labels.length);

  let mismatch: Preprocessed['mismatch'] = null;
  if (curLen < maxLen && curLen !== totalLen) {
    mask(labels, 0, labels.length);
    mismatch = { curLen, totalLen };
  }
  return { prompt, inputIds, labels, mismatch };
}

/** `preprocess_plain` (stage 1): `<image>` + caption + `\n`; the instruction text is dropped, no EOS. */
export function preprocessPlain(
  tokenizer: TextTokenizer,
  turns: readonly Turn[],
  options: ImageTokenOptions = {},
): Preprocessed {
  if (turns.length !== 2) throw new Error(`plain (stage-1) samples need exactly 2 turns, got ${turns.length}`);
  if (!turns[0]!.value.includes(DEFAULT_IMAGE_TOKEN))
    throw new Error('plain (stage-1) samples need <image> in the first turn');
  const prompt = DEFAULT_IMAGE_TOKEN + turns[1]!.value + '\n';
  const inputIds = tokenizerImageToken(tokenizer, prompt, options);
  const labels = inputIds.slice();
  mask(labels, 0, tokenizerImageToken(tokenizer, DEFAULT_IMAGE_TOKEN, options).length);
  return { prompt, inputIds, labels, mismatch: null };
}

/** human/gpt turns to template roles; a leading gpt turn is dropped and roles must alternate, as the reference asserts. */
function toMessages(template: ConversationTemplate, turns: readonly Turn[]): Message[] {
  const roles: Record<string, string> = { human: template.roles[0], gpt: template.roles[1] };
  const source = turns.length > 0 && turns[0]!.from !== 'human' ? turns.slice(1) : turns;
  return source.map((turn, j) => {
    const role = roles[turn.from];
    if (role === undefined) throw new Error(`turn ${j}: unknown speaker '${turn.from}' (expected 'human' or 'gpt')`);
    if (role !== template.roles[j % 2])
      throw new Error(`turn ${j}: speakers must alternate human, gpt, ... but turn ${j} is '${turn.from}'`);
    return { role, content: turn.value };
  });
}

/** Python's `labels[start:end] = IGNORE_INDEX` for 0 <= start (an end below start masks nothing). */
function mask(labels: number[], start: number, end: number): void {
  for (let k = start; k < Math.min(end, labels.length); k++) labels[k] = IGNORE_INDEX;
}
