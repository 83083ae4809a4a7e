// The VQA answer normalisation of the reference's m4c_evaluator.py (EvalAIAnswerProcessor, the
// EvalAI / MMF one), stage by stage, quirks included:
//   1. lower-case; drop ',' and '?'; "'s" -> " 's"; strip
//   2. '\n' and '\t' -> ' '; strip
//   3. each punctuation mark: deleted everywhere if it stands next to a space anywhere in the
//      text (or a digit,digit run exists: never, stage 1 removed the commas), else each becomes ' '
//   4. '.' not followed by a digit is deleted (the lookbehind is malformed, so "3.5." -> "3.5"),
//      only the first 32 (re.UNICODE passed as the count)
//   5. split on whitespace; none/zero..ten -> digits; drop a/an/the; contractions

import { CONTRACTIONS } from './vqa-contractions.js';
import { pythonSplit, pythonStrip } from './python-str.js';

const NUMBER_MAP: Record<string, string> = {
  none: '0',
  zero: '0',
  one: '1',
  two: '2',
  three: '3',
  four: '4',
  five: '5',
  six: '6',
  seven: '7',
  eight: '8',
  nine: '9',
  ten: '10',
};
const ARTICLES = new Set(['a', 'an', 'the']);
const PUNCTUATIONS = [
  ';',
  '/',
  '[',
  ']',
  '"',
  '{',
  '}',
  '(',
  ')',
  '=',
  '+',
  '\\',
  '_',
  '-',
  '>',
  '<',
  '@',
  '`',
  ',',
  '?',
  '!',
];
const COMMA_STRIP = /(?<=\d)(,)+(?=\d)/;
const PERIOD_COUNT = 32; // re.UNICODE == 32, passed where re.sub takes `count`

export interface NormalizeStages {
  word_tokenize: string;
  whitespace_strip: string;
  process_punctuation: string;
  final: string;
}

function processPunctuation(text: string): string {
  let out = text;
  for (const p of PUNCTUATIONS) {
    const strip = text.includes(`${p} `) || text.includes(` ${p}`) || COMMA_STRIP.test(text);
    out = out.replaceAll(p, strip ? '' : ' ');
  }
  let periods = 0;
  return out.replace(/\.(?!\d)/g, (dot) => (periods++ < PERIOD_COUNT ? '' : dot));
}

function processDigitArticle(text: string): string {
  const words = pythonSplit(text.toLowerCase())
    .map((w) => NUMBER_MAP[w] ?? w)
    .filter((w) => !ARTICLES.has(w));
  return words.map((w) => (Object.hasOwn(CONTRACTIONS, w) ? CONTRACTIONS[w]! : w)).join(' ');
}

export function vqaNormalizeStages(answer: string): NormalizeStages {
  const word_tokenize = pythonStrip(
    answer.toLowerCase().replaceAll(',', '').replaceAll('?', '').replaceAll("'s", " 's"),
  );
  const whitespace_strip = pythonStrip(word_tokenize.replaceAll('\n', ' ').replaceAll('\t', ' '));
  const process_punctuation = processPunctuation(whitespace_strip);
  return { word_tokenize, whitespace_strip, process_punctuation, final: processDigitArticle(process_punctuation) };
}

export function vqaNormalize(answer: string): string {
  return vqaNormalizeStages(answer).final;
}
