import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DETAIL_INSTRUCTIONS, parseReply, toInstructionRecord } from '../../src/datagen/index.js';
import { REFERENCE_PROMPTS } from './paths.js';

const read = (file: string) => readFile(join(REFERENCE_PROMPTS, file), 'utf8');

test('the reference conversation examples parse into their question/answer turns', async () => {
  const parsed = parseReply('conversation', await read('conversation/000_conv.txt'));
  assert.ok(parsed.ok);
  assert.equal(parsed.turns.length, 4);
  assert.deepEqual(parsed.turns[0], {
    question: 'What color is the fire hydrant in the image?',
    answer: 'The fire hydrant in the image is red.',
  });
  assert.equal(parsed.turns[3]!.question, 'What does the image suggest about the winter season in the city?');
  assert.ok(parsed.turns[3]!.answer.startsWith('The image suggests that the winter season'));
  assert.ok(parsed.turns[3]!.answer.endsWith('its residents and infrastructure.'));
  const second = parseReply('conversation', await read('conversation/001_conv.txt'));
  assert.ok(second.ok);
  assert.deepEqual(
    second.turns.map((t) => t.question),
    [
      'What is the skier doing?',
      'Are there any other people or skiers visible in the image?',
      'What kind of skiing is the person doing? Cross-country or downhill?',
      'Can you explain cross-country and downhill skiing a bit more?',
    ],
  );
});

test('the reference complex-reasoning examples parse into one turn; detail examples are the answer', async () => {
  const questions = [
    'What is unusual about this photo?',
    'What challenges do these people face?',
    'What challenges might this city face?',
  ];
  for (const [i, question] of questions.entries()) {
    const parsed = parseReply('complex_reasoning', await read(`complex_reasoning/00${i}_conv.txt`));
    assert.ok(parsed.ok);
    assert.equal(parsed.turns.length, 1);
    assert.equal(parsed.turns[0]!.question, question);
  }
  const text = await read('detail_description/000_conv.txt');
  assert.deepEqual(parseReply('detail_description', text, 'Describe the following image in detail'), {
    ok: true,
    turns: [{ question: 'Describe the following image in detail', answer: text }],
  });
});

test('replies that do not fit the format are rejected with a reason', () => {
  const cases: [Parameters<typeof parseReply>[0], string, string][] = [
    ['conversation', '', 'empty reply'],
    ['conversation', '   \n===\n  ', 'empty reply'],
    ['conversation', 'Sure! Here is a conversation.', 'block without Question:/Answer: header'],
    ['conversation', 'Question:\nA?\n===\nQuestion:\nB?\n===\nAnswer:\nb', 'question without answer'],
    ['conversation', 'Question:\nA?\n===\nAnswer:\na\n===\nQuestion:\nB?', 'question without answer'],
    ['conversation', 'Answer:\na', 'answer without question'],
    ['conversation', 'Question:\nA?\n===\nAnswer:\n   ', 'empty answer'],
    [
      'complex_reasoning',
      'Question:\nA?\n===\nAnswer:\na\n===\nQuestion:\nB?\n===\nAnswer:\nb',
      'complex reasoning needs one question',
    ],
    ['detail_description', 'Question:\nWhat?\n===\nAnswer:\nThis.', 'question in detailed description'],
    ['detail_description', 'Answer:', 'empty answer'],
  ];
  for (const [type, reply, reason] of cases) {
    const parsed = parseReply(type, reply, 'Describe');
    assert.equal(parsed.ok, false, `${type}: ${JSON.stringify(reply)}`);
    assert.equal(!parsed.ok && parsed.reason, reason, `${type}: ${JSON.stringify(reply)}`);
  }
});

test('parsing tolerates CRLF, headers on the question line, and a trailing separator', () => {
  const parsed = parseReply('conversation', 'Question: Is it red?\r\n===\r\nAnswer: Yes.\r\n===\r\n');
  assert.deepEqual(parsed, { ok: true, turns: [{ question: 'Is it red?', answer: 'Yes.' }] });
  assert.deepEqual(parseReply('detail_description', 'Answer:\nA harbour.', 'Describe'), {
    ok: true,
    turns: [{ question: 'Describe', answer: 'A harbour.' }],
  });
});

test('records put <image> once in the first human turn; random placement is seeded per record', () => {
  const context = { id: '000000000139', image: '000000000139.jpg', captions: ['c'], instances: [] };
  const turns = [
    { question: 'Q1?', answer: 'A1' },
    { question: 'Q2?', answer: 'A2' },
  ];
  assert.deepEqual(toInstructionRecord(context, turns, 'first', 0, 'conversation'), {
    id: '000000000139',
    image: '000000000139.jpg',
    conversations: [
      { from: 'human', value: '<image>\nQ1?' },
      { from: 'gpt', value: 'A1' },
      { from: 'human', value: 'Q2?' },
      { from: 'gpt', value: 'A2' },
    ],
  });
  const firstTurn = (seed: number, i: number) =>
    toInstructionRecord({ ...context, id: String(i) }, turns, 'random', seed, 'conversation').conversations[0]!.value;
  const seven = Array.from({ length: 64 }, (_, i) => firstTurn(7, i));
  assert.deepEqual(new Set(seven), new Set(['<image>\nQ1?', 'Q1?\n<image>']));
  assert.deepEqual(
    seven,
    Array.from({ length: 64 }, (_, i) => firstTurn(7, i)),
    'same seed, same sides',
  );
  assert.notDeepEqual(
    seven,
    Array.from({ length: 64 }, (_, i) => firstTurn(8, i)),
    'another seed, other sides',
  );
  assert.equal(DETAIL_INSTRUCTIONS.length, 16);
});
