// The chat template written into the demo's llava-hf checkpoint must prompt exactly as training rendered the
// conversation (spec §3: vicuna_v1's "SYSTEM USER: ... ASSISTANT: ...</s>"), including images, system messages
// and multi-turn history; the expected strings are written out by hand from the spec's template.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChatTemplate, type ChatMessage } from '../../src/text/chat-template.js';
import { conversationTemplate } from '../../src/text/conversation.js';
import { conversationChatTemplate } from '../../src/text/conversation-chat-template.js';

const SYSTEM =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

const render = (messages: ChatMessage[], addGenerationPrompt = true) =>
  renderChatTemplate(conversationChatTemplate(conversationTemplate('vicuna_v1')), messages, {
    addGenerationPrompt,
    specialTokens: {},
  });

test('one question with an image renders as vicuna_v1 with the open assistant slot', () => {
  const prompt = render([
    {
      role: 'user',
      content: [{ type: 'image' }, { type: 'text', text: 'What colour is the circle?' }],
    },
  ]);
  assert.equal(prompt, `${SYSTEM} USER: <image>\nWhat colour is the circle? ASSISTANT:`);
});

test('history, a system message and string content render with both separators', () => {
  const prompt = render([
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello.' },
    { role: 'user', content: [{ type: 'text', text: 'Count.' }] },
  ]);
  assert.equal(prompt, 'Be brief. USER: Hi ASSISTANT: Hello.</s>USER: Count. ASSISTANT:');
  assert.equal(
    render(
      [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
      ],
      false,
    ),
    `${SYSTEM} USER: Hi ASSISTANT: Hello.</s>`,
  );
});

test('templates with other separator styles are refused', () => {
  assert.throws(() => conversationChatTemplate(conversationTemplate('llava_v0')), /not a two-separator template/);
});
