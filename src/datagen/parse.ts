// Turns a model reply into question/answer turns, in the format the few-shot examples teach
// (spec §2.3): conversation = blocks "Question:\n<q>" / "Answer:\n<a>" separated by lines "===";
// complex reasoning = exactly one such pair; detailed description = the answer alone.
// A reply that does not fit is rejected with a short reason (grouped in the summary) and a detail.

import type { PromptType } from './prompts.js';

export interface Turn {
  question: string;
  answer: string;
}
export type Parsed = { ok: true; turns: Turn[] } | { ok: false; reason: string; detail: string };

const HEADER = /^(Question|Answer):[ \t]*(?:\n|$)?/;

function reject(reason: string, detail: string): Parsed {
  return { ok: false, reason, detail };
}

/** Splits on lines that hold only "===" (the separator the examples use), dropping empty blocks. */
function parsePairs(text: string): Parsed {
  const blocks = text
    .split(/^[ \t]*===+[ \t]*$/m)
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const turns: Turn[] = [];
  let question: string | undefined;
  for (const [i, block] of blocks.entries()) {
    const m = HEADER.exec(block);
    if (!m)
      return reject(
        'block without Question:/Answer: header',
        `block ${i + 1} starts with ${JSON.stringify(block.slice(0, 40))}`,
      );
    const body = block.slice(m[0].length).trim();
    if (body === '') return reject(`empty ${m[1]!.toLowerCase()}`, `block ${i + 1}`);
    if (m[1] === 'Question') {
      if (question !== undefined) return reject('question without answer', `block ${i + 1} follows another question`);
      question = body;
    } else {
      if (question === undefined) return reject('answer without question', `block ${i + 1}`);
      turns.push({ question, answer: body });
      question = undefined;
    }
  }
  if (question !== undefined) return reject('question without answer', 'the reply ends with a question');
  if (turns.length === 0) return reject('empty reply', 'no question/answer pairs');
  return { ok: true, turns };
}

/**
 * Detailed description replies have no question: the whole reply (minus a stray "Answer:"
 * header) is the answer; `instruction` becomes the question.
 */
export function parseReply(type: PromptType, reply: string, instruction = ''): Parsed {
  const text = reply.replace(/\r\n?/g, '\n').trim();
  if (text === '') return reject('empty reply', 'the model returned no text');
  if (type === 'detail_description') {
    if (/^Question:/.test(text)) return reject('question in detailed description', 'the reply starts with "Question:"');
    const answer = text.replace(HEADER, '').trim();
    if (answer === '') return reject('empty answer', 'only an "Answer:" header');
    return { ok: true, turns: [{ question: instruction, answer }] };
  }
  const parsed = parsePairs(text);
  if (parsed.ok && type === 'complex_reasoning' && parsed.turns.length !== 1) {
    return reject('complex reasoning needs one question', `got ${parsed.turns.length} question/answer pairs`);
  }
  return parsed;
}
