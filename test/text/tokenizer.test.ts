// The LLaMA/Vicuna tokenizer loaded from a rebuilt tokenizer.json against HF's slow tokenizer outputs
// (llava_preprocess/tokenizer_cases.jsonl, both legacy values) and against llama-tokenizer-js's own BPE port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { tokenizerImageToken } from '../../src/text/image-token.js';
import { llamaTokenizerJs, writeLlamaTokenizerDir } from '../helpers/text-llama-tokenizer.js';
import { readJsonl } from '../helpers/text-golden.js';

interface TokCase {
  text: string;
  ids_legacy: number[];
  ids_non_legacy: number[];
  image_ids_legacy?: number[];
  image_ids_non_legacy?: number[];
}
const cases = readJsonl<TokCase>('tokenizer_cases.jsonl');
const legacy = TextTokenizer.fromDir(writeLlamaTokenizerDir(true));
const nonLegacy = TextTokenizer.fromDir(writeLlamaTokenizerDir(false));

test('known pieces: ▁A = 319, ▁chat = 13563, specials 0/1/2, and the config is read', () => {
  assert.equal(legacy.tokenToId('\u2581A'), 319);
  assert.equal(legacy.tokenToId('\u2581chat'), 13563);
  assert.deepEqual([legacy.unkId, legacy.bosId, legacy.eosId, legacy.padId], [0, 1, 2, undefined]);
  assert.equal(legacy.vocabSize, 32000);
  assert.equal(legacy.modelMaxLength, 2048);
  assert.equal(legacy.legacy, true);
  assert.equal(nonLegacy.legacy, false);
  assert.deepEqual(legacy.encode('A chat'), [1, 319, 13563]);
});

test('337 strings equal the HF slow tokenizer, legacy on and off', () => {
  assert.equal(cases.length, 337);
  for (const c of cases) {
    assert.deepEqual(legacy.encode(c.text), c.ids_legacy, `legacy: ${JSON.stringify(c.text)}`);
    assert.deepEqual(nonLegacy.encode(c.text), c.ids_non_legacy, `non-legacy: ${JSON.stringify(c.text)}`);
  }
});

test('tokenizer_image_token on the <image> strings, legacy on and off', () => {
  const withImage = cases.filter((c) => c.image_ids_legacy !== undefined);
  assert.ok(withImage.length > 0);
  for (const c of withImage) {
    assert.deepEqual(tokenizerImageToken(legacy, c.text), c.image_ids_legacy, c.text);
    assert.deepEqual(tokenizerImageToken(nonLegacy, c.text), c.image_ids_non_legacy, c.text);
  }
});

test('agrees with llama-tokenizer-js on every golden string without special tokens', () => {
  const lt = llamaTokenizerJs();
  let checked = 0;
  for (const c of cases) {
    if (/<s>|<\/s>|<unk>/.test(c.text)) continue;
    assert.deepEqual(legacy.encode(c.text), lt.encode(c.text), JSON.stringify(c.text));
    checked++;
  }
  assert.ok(checked > 250, `only ${checked} strings checked`);
});

test('the dummy prefix around special tokens: legacy adds ▁ after </s>, non-legacy does not', () => {
  // `</s>USER:` (spec §4.3 / golden README): 2, 3148 ▁US, 1001 ER, 29901 : with legacy; 2, 11889 USER, 29901 : without.
  assert.deepEqual(legacy.encode('A</s>USER:', { addSpecialTokens: false }), [319, 2, 3148, 1001, 29901]);
  assert.deepEqual(nonLegacy.encode('A</s>USER:', { addSpecialTokens: false }), [319, 2, 11889, 29901]);
});

test('truncation keeps the first max_length ids; decode inverts encode', () => {
  const ids = legacy.encode('The quick brown fox jumps over the lazy dog.');
  assert.deepEqual(legacy.encode('The quick brown fox jumps over the lazy dog.', { maxLength: 4 }), ids.slice(0, 4));
  assert.equal(legacy.decode(ids, { skipSpecialTokens: true }), 'The quick brown fox jumps over the lazy dog.');
  assert.equal(legacy.decode([1, 319, 13563, 2]), '<s> A chat</s>');
});

test('a folder with only tokenizer.model says how to convert it; an empty one says what is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llava-spm-'));
  assert.throws(() => TextTokenizer.fromDir(dir), /no tokenizer\.json in/);
  writeFileSync(join(dir, 'tokenizer.model'), 'not really a model');
  assert.throws(() => TextTokenizer.fromDir(dir), /only a SentencePiece tokenizer\.model.*save_pretrained/s);
});

test('a malformed tokenizer.json is a clear error naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llava-badtok-'));
  writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
  assert.throws(
    () => TextTokenizer.fromDir(dir),
    new RegExp(`cannot read ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/tokenizer\\.json`),
  );
});

test("a non-SentencePiece tokenizer.json (e.g. MPT's) goes through the library pipeline, added tokens included", () => {
  const vocab = { h: 0, e: 1, l: 2, o: 3, he: 4, ll: 5, hell: 6, hello: 7, '<|endoftext|>': 8 };
  const bpe = new TextTokenizer(
    {
      model: { type: 'BPE', vocab, merges: ['h e', 'l l', 'he ll', 'hell o'] },
      added_tokens: [{ id: 8, content: '<|endoftext|>', special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
    } as never,
    { eos_token: '<|endoftext|>' },
  );
  assert.deepEqual(bpe.encode('hello<|endoftext|>hell hello'), [7, 8, 6, 7]);
  assert.equal(bpe.eosId, 8);
  assert.equal(bpe.bosId, undefined);
});
