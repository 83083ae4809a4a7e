// Question files of the answer scripts (spec §8.1), in their two forms:
//   JSONL, as model_vqa.py / model_vqa_loader.py read it: {question_id, image?, text, category?};
//     the answer's "prompt" is the text as given.
//   a JSON list of conversation records, as model_vqa_science.py reads ScienceQA
//     (llava_test_CQM-A.json): {id, image?, conversations: [{value: question}, ...]}; the question is
//     the first turn without `<image>`, stripped, plus the option-letter suffix with
//     singlePredPrompt; the answer's "prompt" carries "<image>\n" in front when there is an image
//     (eval_science_qa.py counts IMG-Accuracy by it).

import { readFileSync } from 'node:fs';
import { parseJsonl } from './jsonl.js';
import type { PyValue } from './python-json.js';
import { pythonStrip } from './python-str.js';

export const SINGLE_PRED_PROMPT = "Answer with the option's letter from the given choices directly.";

export interface Question {
  /** Where it is (file:line or file[index]), for messages. */
  where: string;
  questionId: PyValue;
  /** Image file relative to the image folder; absent for a text-only question. */
  image: string | undefined;
  /** The user's text (the model sees `<image>\n` + it when there is an image). */
  text: string;
  /** The answer file's "prompt". */
  recordedPrompt: string;
}

function image(value: unknown, where: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw new Error(`${where}: "image" must be a file name`);
  return value;
}

export function readQuestionFile(path: string, { singlePredPrompt = false } = {}): Question[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path} (${(err as Error).message})`);
  }
  if (text.trimStart().startsWith('[')) return scienceQuestions(text, path, singlePredPrompt);
  return parseJsonl(text, path, { keepFloats: true }).map(({ line, value }) => {
    const where = `${path}:${line}`;
    const q = value as Record<string, unknown>;
    if (typeof q?.text !== 'string') throw new Error(`${where}: the question has no string "text"`);
    if (!('question_id' in q)) throw new Error(`${where}: the question has no question_id`);
    const question = singlePredPrompt ? `${q.text}\n${SINGLE_PRED_PROMPT}` : q.text;
    return {
      where,
      questionId: q.question_id as PyValue,
      image: image(q.image, where),
      text: question,
      recordedPrompt: question,
    };
  });
}

function scienceQuestions(text: string, path: string, singlePredPrompt: boolean): Question[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(list)) throw new Error(`${path}: expected a list of {id, image, conversations}`);
  return list.map((record: Record<string, unknown>, i) => {
    const where = `${path}[${i}]`;
    const first = (record?.conversations as { value?: unknown }[] | undefined)?.[0]?.value;
    if (typeof first !== 'string') throw new Error(`${where}: conversations[0].value must be the question`);
    if (!('id' in record)) throw new Error(`${where}: the record has no id`);
    let question = pythonStrip(first.replaceAll('<image>', ''));
    if (singlePredPrompt) question = `${question}\n${SINGLE_PRED_PROMPT}`;
    const file = image(record.image, where);
    return {
      where,
      questionId: record.id as PyValue,
      image: file,
      text: question,
      recordedPrompt: file === undefined ? question : `<image>\n${question}`,
    };
  });
}
