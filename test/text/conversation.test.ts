// Byte-exact prompts for every template, against strings written out from the spec (§3, §3.1, §10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  conversationTemplate,
  conversationTemplates,
  generationPrompt,
  renderPrompt,
  stopString,
  type Message,
} from '../../src/text/conversation.js';

const S_HUMAN =
  "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";
const S_USER =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";
const S_MMTAG =
  'A chat between a curious user and an artificial intelligence assistant. The assistant is able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.The visual content will be provided with the following format: <Image>visual content</Image>.';
const S_LLAVA_L2 =
  'You are a helpful language and vision assistant. You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.';
const S_MPT =
  '<|im_start|>system\nA conversation between a user and an LLM-based AI assistant. The assistant gives helpful and honest answers.';

const twoRounds = (user: string, assistant: string): Message[] => [
  { role: user, content: '<image>\nQ1' },
  { role: assistant, content: 'A1' },
  { role: user, content: 'Q2' },
  { role: assistant, content: 'A2' },
];
const oneQuestion = (user: string): Message[] => [{ role: user, content: '<image>\nWhat is this?' }];

test('vicuna_v1 (v1): training and generation prompts; sep is a space, sep2 </s> with nothing after it', () => {
  const t = conversationTemplate('vicuna_v1');
  assert.equal(conversationTemplate('v1'), t);
  assert.equal(
    renderPrompt(t, twoRounds('USER', 'ASSISTANT')),
    `${S_USER} USER: <image>\nQ1 ASSISTANT: A1</s>USER: Q2 ASSISTANT: A2</s>`,
  );
  assert.equal(generationPrompt(t, oneQuestion('USER')), `${S_USER} USER: <image>\nWhat is this? ASSISTANT:`);
  assert.equal(stopString(t), '</s>');
});

test('llava_v1 differs from vicuna_v1 only in the system prompt (human, not user)', () => {
  const t = conversationTemplate('llava_v1');
  assert.equal(generationPrompt(t, oneQuestion('USER')), `${S_HUMAN} USER: <image>\nWhat is this? ASSISTANT:`);
  assert.notEqual(t.system, conversationTemplate('vicuna_v1').system);
});

test('v1_mmtag: no space between "language." and "The visual content"', () => {
  const t = conversationTemplate('v1_mmtag');
  assert.equal(t.system, S_MMTAG);
  assert.ok(t.system.includes('language.The visual'));
  assert.equal(conversationTemplate('v0_mmtag').system, S_MMTAG);
});

test('llava_v0 (SINGLE, ###): generation prompt', () => {
  const t = conversationTemplate('llava_v0');
  assert.equal(generationPrompt(t, oneQuestion('Human')), `${S_HUMAN}###Human: <image>\nWhat is this?###Assistant:`);
  assert.equal(stopString(t), '###');
});

test('v0 / default (vicuna_v0) renders its built-in one-shot example first', () => {
  const t = conversationTemplate('v0');
  assert.equal(conversationTemplate('default'), t);
  const prompt = generationPrompt(t, [{ role: 'Human', content: 'Hi' }]);
  assert.ok(
    prompt.startsWith(
      `${S_HUMAN}###Human: What are the key differences between renewable and non-renewable energy sources?###Assistant: Renewable energy sources are those that can be replenished naturally`,
    ),
  );
  assert.ok(prompt.endsWith('their depletion can lead to economic and social instability.\n###Human: Hi###Assistant:'));
  assert.equal(prompt.match(/\n\d\. /g)?.length, 6);
});

test('llava_llama_2: <<SYS>> block in the first [INST], answers as " A </s>", later rounds "<s>[INST]", leading <s> stripped', () => {
  const t = conversationTemplate('llava_llama_2');
  assert.equal(
    renderPrompt(t, [...twoRounds('USER', 'ASSISTANT').slice(0, 3), { role: 'ASSISTANT', content: null }]),
    `[INST] <<SYS>>\n${S_LLAVA_L2}\n<</SYS>>\n\n<image>\nQ1 [/INST] A1 </s><s>[INST] Q2 [/INST]`,
  );
  assert.equal(stopString(t), '</s>');
});

test('llama_2: the stock Llama-2 system prompt, with its double space and paragraph break', () => {
  const t = conversationTemplate('llama_2');
  assert.ok(
    t.system.startsWith(
      'You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being safe.  Your answers',
    ),
  );
  assert.ok(t.system.includes('positive in nature.\n\nIf a question does not make any sense'));
  assert.ok(t.system.endsWith("please don't share false information."));
  assert.ok(
    renderPrompt(t, [{ role: 'USER', content: 'Hi' }]).startsWith(
      `[INST] <<SYS>>\n${t.system}\n<</SYS>>\n\nHi [/INST]`,
    ),
  );
});

test('mpt: roles carry their newline, no newline after <|im_end|>', () => {
  const t = conversationTemplate('mpt');
  assert.equal(
    generationPrompt(t, [{ role: '<|im_start|>user\n', content: '<image>\nQ1' }]),
    `${S_MPT}<|im_end|><|im_start|>user\n<image>\nQ1<|im_end|><|im_start|>assistant\n`,
  );
  assert.equal(stopString(t), '<|im_end|>');
});

test('plain: no system, no roles; assistant turns need a sep2 it does not have', () => {
  const t = conversationTemplate('plain');
  assert.equal(renderPrompt(t, [{ role: '', content: '<image>' }]), '<image>\n');
  assert.throws(
    () =>
      renderPrompt(t, [
        { role: '', content: '<image>' },
        { role: '', content: 'a cat' },
      ]),
    /no sep2/,
  );
});

test('an empty message renders as an open slot, as Python `if message:` does', () => {
  const t = conversationTemplate('vicuna_v1');
  assert.equal(
    renderPrompt(t, [
      { role: 'USER', content: 'Q' },
      { role: 'ASSISTANT', content: '' },
    ]),
    `${S_USER} USER: Q ASSISTANT:`,
  );
});

test('the registry has every reference key; an unknown name lists them', () => {
  for (const key of [
    'default',
    'v0',
    'v1',
    'vicuna_v1',
    'llama_2',
    'plain',
    'v0_plain',
    'llava_v0',
    'v0_mmtag',
    'llava_v1',
    'v1_mmtag',
    'llava_llama_2',
    'mpt',
    'mistral_instruct',
    'chatml_direct',
    'mistral_direct',
  ]) {
    assert.ok(conversationTemplates[key], key);
  }
  assert.throws(
    () => conversationTemplate('vicuna_v2'),
    /unknown conversation template 'vicuna_v2'; known: default, v0, v1/,
  );
});
