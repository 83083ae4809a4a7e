// Stage 0's tokenizer against the properties LLaVA needs of a LLaMA tokenizer: the layout (<unk> <s> </s>, byte
// pieces), whole words as one token, lossless round trips through byte fallback, loading through the project's
// tokenizer and LlavaProcessor, and preprocess_v1 supervising exactly each answer and its </s> over several rounds.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildTokenizer } from '../../src/demo/tokenizer.js';
import { LlavaProcessor } from '../../src/serve/processor.js';
import { conversationTemplate } from '../../src/text/conversation.js';
import { IGNORE_INDEX } from '../../src/text/image-token.js';
import { placeImage } from '../../src/text/image-placement.js';
import { preprocess } from '../../src/text/preprocess.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';

const CORPUS = [
  'A red circle and a blue square.',
  'There is a small green triangle at the top left.',
  'The picture shows two objects: a yellow cross and a red circle.',
  'What colour is the circle? The circle is red.',
  'How many objects are there? There are 3 objects.',
  'Is there a purple square? No, there is no purple square.',
];
const TEXTS = Array.from({ length: 5 }, () => CORPUS).flat();

let dir: string;
let tokenizer: TextTokenizer;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'llava-demo-tok-'));
  buildTokenizer(TEXTS, dir, { modelMaxLength: 512 });
  tokenizer = TextTokenizer.fromDir(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the layout is LLaMA’s: <unk> <s> </s>, then the 256 byte pieces; BOS added, pad = unk, legacy off', () => {
  assert.deepEqual(
    [0, 1, 2].map((i) => tokenizer.idToToken(i)),
    ['<unk>', '<s>', '</s>'],
  );
  assert.equal(tokenizer.idToToken(3), '<0x00>');
  assert.equal(tokenizer.idToToken(258), '<0xFF>');
  assert.equal(tokenizer.idToToken(3 + 0x0a), '<0x0A>');
  assert.deepEqual([tokenizer.bosId, tokenizer.eosId, tokenizer.unkId, tokenizer.padId], [1, 2, 0, 0]);
  assert.equal(tokenizer.legacy, false);
  assert.equal(tokenizer.modelMaxLength, 512);
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  assert.equal(config.tokenizer_class, 'LlamaTokenizerFast');
  assert.equal(config.add_eos_token, false);
});

test('common words of the corpus are single tokens with the word marker', () => {
  const pieces = (text: string) =>
    tokenizer.encode(text, { addSpecialTokens: false }).map((i) => tokenizer.idToToken(i));
  assert.deepEqual(pieces('a red circle'), ['▁a', '▁red', '▁circle']);
  assert.deepEqual(pieces('The circle is red.'), ['▁The', '▁circle', '▁is', '▁red', '.']);
  assert.deepEqual(tokenizer.encode('red'), [1, tokenizer.tokenToId('▁red')]);
});

test('any text round-trips: unseen words split, unseen characters fall back to bytes', () => {
  for (const text of [
    'A red circle.',
    'zebra quokka 12345',
    'Émile’s naïve café — 日本語 🎨\n\ttabs and\nnewlines',
    '  two leading spaces, trailing one ',
  ]) {
    const ids = tokenizer.encode(text);
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), text, JSON.stringify(text));
  }
  const emoji = tokenizer.encode('🎨', { addSpecialTokens: false }).map((i) => tokenizer.idToToken(i));
  assert.deepEqual(emoji, ['▁', '<0xF0>', '<0x9F>', '<0x8E>', '<0xA8>']);
});

test('the user role after </s> is one token and `▁USER` is two, as in LLaMA’s vocabulary', () => {
  const pieces = (text: string) => tokenizer.encode(text).map((i) => tokenizer.idToToken(i));
  assert.deepEqual(pieces('USER:'), ['<s>', '▁', 'USER', ':']);
  assert.deepEqual(pieces('a</s>USER:'), ['<s>', '▁a', '</s>', 'USER', ':']);
  assert.deepEqual(pieces(' ASSISTANT: ').slice(-2), [':', '▁']);
});

test('preprocess_v1 of a multi-turn image conversation supervises exactly each answer and its </s>', () => {
  const turns = placeImage(
    [
      { from: 'human', value: 'What colour is the circle?\n<image>' },
      { from: 'gpt', value: 'The circle is red.' },
      { from: 'human', value: 'How many objects are there?' },
      { from: 'gpt', value: 'There are 3 objects: a red circle, a blue square and a zebra.' },
      { from: 'human', value: 'Is there a purple square?' },
      { from: 'gpt', value: 'No, there is no purple square.' },
    ],
    { placement: 'first' },
  );
  for (const name of ['vicuna_v1', 'llava_v1']) {
    for (const hasImage of [true, false]) {
      const sample = hasImage ? turns : turns.map((t) => ({ ...t, value: t.value.replace('<image>\n', '') }));
      const out = preprocess(tokenizer, conversationTemplate(name), sample, { hasImage });
      assert.equal(out.mismatch, null, `${name} image=${hasImage}`);
      const spans = supervisedSpans(out.labels).map((ids) => tokenizer.decode(ids));
      assert.deepEqual(
        spans,
        sample.filter((t) => t.from === 'gpt').map((t) => `${t.value}</s>`),
        `${name} image=${hasImage}`,
      );
      // The supervised ids are the input ids themselves.
      out.labels.forEach((l, k) => l !== IGNORE_INDEX && assert.equal(l, out.inputIds[k]));
    }
  }
});

test('tokenizer.model (what use_fast=False reads) encodes every text as tokenizer.json does', () => {
  const slow = mkdtempSync(join(tmpdir(), 'llava-demo-spm-'));
  try {
    for (const f of ['tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json'])
      copyFileSync(join(dir, f), join(slow, f));
    const fromModel = TextTokenizer.fromDir(slow); // converted as LlamaConverter would
    assert.equal(fromModel.vocabSize, tokenizer.vocabSize);
    const texts = [
      ...CORPUS,
      'zebra quokka 12345',
      'Émile’s naïve café 🎨\n',
      'a</s>USER: What colour? ASSISTANT: red',
    ];
    for (const text of texts) assert.deepEqual(fromModel.encode(text), tokenizer.encode(text), JSON.stringify(text));
  } finally {
    rmSync(slow, { recursive: true, force: true });
  }
});

test('LlavaProcessor loads the folder beside a model config and a 64 px preprocessor config', () => {
  const model = mkdtempSync(join(tmpdir(), 'llava-demo-proc-'));
  try {
    buildTokenizer(TEXTS, model);
    writeFileSync(join(model, 'config.json'), JSON.stringify({ model_type: 'llava_llama', mm_vision_tower: 'clip' }));
    writeFileSync(
      join(model, 'preprocessor_config.json'),
      JSON.stringify({ size: { shortest_edge: 64 }, crop_size: { height: 64, width: 64 } }),
    );
    const processor = LlavaProcessor.fromPretrained(model, { conversationTemplate: 'vicuna_v1' });
    const ids = processor.encodePrompt('USER: <image>\nWhat colour is the circle? ASSISTANT:');
    assert.equal(ids[0], 1);
    assert.equal(ids.filter((i) => i === -200).length, 1);
    // Spec §4.2: the space before <image> is a lone `▁`, the chunk after it starts with a dummy `▁` then the newline byte.
    const at = ids.indexOf(-200);
    const around = ids.slice(at - 2, at + 4).map((i) => (i < 0 ? i : processor.tokenizer.idToToken(i)));
    assert.deepEqual(around, [':', '▁', -200, '▁', '<0x0A>', 'What']);
  } finally {
    rmSync(model, { recursive: true, force: true });
  }
});

/** Runs of consecutive supervised ids. */
function supervisedSpans(labels: number[]): number[][] {
  const spans: number[][] = [];
  let run: number[] | undefined;
  for (const l of labels) {
    if (l === IGNORE_INDEX) run = undefined;
    else if (run) run.push(l);
    else spans.push((run = [l]));
  }
  return spans;
}

test('specialTokens: <image> is one id after the learnt vocabulary, never split, skipped when decoding', () => {
  const withImage = mkdtempSync(join(tmpdir(), 'llava-demo-tok-image-'));
  try {
    const built = buildTokenizer(TEXTS, withImage, { specialTokens: ['<image>'] });
    const t = TextTokenizer.fromDir(withImage);
    const id = t.tokenToId('<image>');
    assert.equal(id, built.vocabSize - 1);
    assert.equal(t.vocabSize, built.vocabSize);
    assert.equal(built.vocabSize, tokenizer.vocabSize + 1, 'the learnt pieces are the same as without it');
    const ids = t.encode('<image>\nWhat colour is the circle?');
    assert.deepEqual(ids.slice(0, 2), [1, id]);
    assert.equal(ids.filter((i) => i === id).length, 1);
    assert.equal(t.decode(ids, { skipSpecialTokens: true }), '\nWhat colour is the circle?');
    const config = JSON.parse(readFileSync(join(withImage, 'tokenizer_config.json'), 'utf8')) as {
      added_tokens_decoder: Record<string, { content: string; special: boolean }>;
    };
    assert.deepEqual(config.added_tokens_decoder[String(id)], {
      content: '<image>',
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: true,
    });
  } finally {
    rmSync(withImage, { recursive: true, force: true });
  }
});
