// The <image> rule (spec §4.2) for -200 and for a llava-hf placeholder id, image placement in the first turn, and
// llava-hf chat templates rendered through @huggingface/jinja.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { countImageTokens, tokenizerImageToken } from '../../src/text/image-token.js';
import { placeImage, pyStrip } from '../../src/text/image-placement.js';
import { llamaTokenizerJson } from '../helpers/text-llama-tokenizer.js';
import { goldenTokenizerConfig, goldenTokenizerDir, withTokenizerDir } from './tokenizer-dirs.js';

const tok = TextTokenizer.fromDir(goldenTokenizerDir(false));

test('-200 per image, BOS once, each chunk with its own dummy prefix (spec §4.2 example)', () => {
  // "USER: <image>\nWhat" -> ▁US ER : ▁ -200 ▁ <0x0A> What
  assert.deepEqual(
    tokenizerImageToken(tok, 'USER: <image>\nWhat'),
    [1, 3148, 1001, 29901, 29871, -200, 29871, 13, 5618],
  );
  assert.deepEqual(tokenizerImageToken(tok, '<image>'), [1, -200]);
  assert.deepEqual(tokenizerImageToken(tok, '<image><image>'), [1, -200, -200]);
});

test('llava-hf: the <image> token id, optionally pre-expanded to image_seq_length', () => {
  const json = llamaTokenizerJson() as { added_tokens: object[] };
  json.added_tokens.push({
    id: 32000,
    content: '<image>',
    special: true,
    normalized: false,
    lstrip: false,
    rstrip: false,
    single_word: false,
  });
  const hf = new TextTokenizer(json as never, {
    add_bos_token: true,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
  });
  assert.equal(hf.tokenToId('<image>'), 32000);
  assert.deepEqual(
    tokenizerImageToken(hf, 'USER: <image>\nWhat', { imageTokenId: 32000 }),
    [1, 3148, 1001, 29901, 29871, 32000, 29871, 13, 5618],
  );
  assert.deepEqual(
    tokenizerImageToken(hf, '<image>', { imageTokenId: 32000, tokensPerImage: 3 }),
    [1, 32000, 32000, 32000],
  );
});

test('countImageTokens counts placeholders', () => {
  assert.equal(countImageTokens('no image'), 0);
  assert.equal(countImageTokens('<image>\nQ <image>'), 2);
});

const turns = [
  { from: 'human', value: 'What is it?\n<image>' },
  { from: 'gpt', value: 'A cat.' },
  { from: 'human', value: 'Sure?' },
];

test("placement 'first' is the reference: <image>\\n + stripped text, only in turns that hold it", () => {
  assert.deepEqual(placeImage(turns, { placement: 'first' }), [
    { from: 'human', value: '<image>\nWhat is it?' },
    turns[1],
    turns[2],
  ]);
  assert.deepEqual(placeImage([{ from: 'human', value: '  <image>  Q \n' }], { placement: 'first' }), [
    { from: 'human', value: '<image>\nQ' },
  ]);
  assert.deepEqual(placeImage(turns, { placement: 'first', mmtag: true })[0], {
    from: 'human',
    value: '<Image><image></Image>\nWhat is it?',
  });
});

test("placement 'keep' leaves the text; 'random' follows the seeded coin, before or after the question", () => {
  assert.deepEqual(placeImage(turns, { placement: 'keep' }), turns);
  assert.equal(placeImage(turns, { placement: 'random', coin: () => false })[0]!.value, '<image>\nWhat is it?');
  assert.equal(placeImage(turns, { placement: 'random', coin: () => true })[0]!.value, 'What is it?\n<image>');
  assert.throws(() => placeImage(turns, { placement: 'random' }), /seeded coin/);
});

test('pyStrip strips what Python str.strip() strips', () => {
  assert.equal(pyStrip('\u0085\u00a0 a b \t\n\u3000'), 'a b');
  assert.equal(pyStrip('\u200bx'), '\u200bx'); // zero-width space is not whitespace in Python
});

test('a llava-hf chat template renders with the special tokens, with and without the generation prompt', () => {
  const template =
    "{{ bos_token }}{% for m in messages %}{{ m['role'].upper() + ': ' }}{% for c in m['content'] %}{% if c['type'] == 'image' %}{{ '<image>\n' }}{% else %}{{ c['text'] + ' ' }}{% endif %}{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";
  const config = { ...goldenTokenizerConfig(false), chat_template: template };
  const hf = withTokenizerDir(false, { 'tokenizer_config.json': config }, (dir) => TextTokenizer.fromDir(dir));
  const messages = [
    { role: 'user', content: [{ type: 'image' as const }, { type: 'text' as const, text: 'What is this?' }] },
  ];
  assert.equal(
    hf.applyChatTemplate(messages, { addGenerationPrompt: true }),
    '<s>USER: <image>\nWhat is this? ASSISTANT:',
  );
  assert.equal(hf.applyChatTemplate(messages), '<s>USER: <image>\nWhat is this? ');
  assert.throws(() => tok.applyChatTemplate(messages), /no chat_template/);
});
