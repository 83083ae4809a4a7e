// The LLaMA/Vicuna tokenizer loaded from SentencePiece's tokenizer.model (../shared/golden/llava_preprocess/tokenizer,
// which has no tokenizer.json) against HF's slow tokenizer outputs (tokenizer_cases.jsonl, both legacy values),
// against llama-tokenizer-js's own BPE port, and against LLaMA's tokenizer.json as llama-tokenizer-js packs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { tokenizerImageToken } from '../../src/text/image-token.js';
import { llamaTokenizerJs, llamaTokenizerJson } from '../helpers/text-llama-tokenizer.js';
import { readJsonl } from '../helpers/text-golden.js';
import { goldenTokenizerConfig, goldenTokenizerDir, withTokenizerDir } from './tokenizer-dirs.js';

interface TokCase {
  text: string;
  ids_legacy: number[];
  ids_non_legacy: number[];
  image_ids_legacy?: number[];
  image_ids_non_legacy?: number[];
}
const cases = readJsonl<TokCase>('tokenizer_cases.jsonl');
const legacy = TextTokenizer.fromDir(goldenTokenizerDir(true));
const nonLegacy = TextTokenizer.fromDir(goldenTokenizerDir(false));
const SPECIAL_TEXT = /<s>|<\/s>|<unk>/;

test('the golden folders hold tokenizer.model and no tokenizer.json, so every case below runs the SentencePiece path', () => {
  for (const dir of [goldenTokenizerDir(true), goldenTokenizerDir(false)]) {
    assert.ok(existsSync(join(dir, 'tokenizer.model')), dir);
    assert.ok(!existsSync(join(dir, 'tokenizer.json')), dir);
  }
});

test('known pieces: ▁A = 319, ▁chat = 13563, specials 0/1/2, pad = <unk>, and the config is read', () => {
  assert.equal(legacy.tokenToId('\u2581A'), 319);
  assert.equal(legacy.tokenToId('\u2581chat'), 13563);
  assert.equal(legacy.idToToken(229), '<0xE2>');
  assert.deepEqual([legacy.unkId, legacy.bosId, legacy.eosId, legacy.padId], [0, 1, 2, 0]);
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
    if (SPECIAL_TEXT.test(c.text)) continue;
    assert.deepEqual(legacy.encode(c.text), lt.encode(c.text), JSON.stringify(c.text));
    checked++;
  }
  assert.ok(checked > 250, `only ${checked} strings checked`);
});

test("LLaMA's own tokenizer.json (rebuilt from llama-tokenizer-js) gives the same ids as tokenizer.model", () => {
  for (const flag of [true, false]) {
    const fromJson = new TextTokenizer(llamaTokenizerJson() as never, goldenTokenizerConfig(flag));
    for (const c of cases) {
      assert.deepEqual(fromJson.encode(c.text), flag ? c.ids_legacy : c.ids_non_legacy, JSON.stringify(c.text));
    }
  }
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

test('byte-fallback pieces decode to UTF-8: 😀 is <0xF0><0x9F><0x98><0x80>, ❤ is <0xE2><0x9D><0xA4>', () => {
  // 😀 U+1F600 = F0 9F 98 80, ids 3 + byte; ❤ U+2764 = E2 9D A4. Neither is a piece, so both fall back to bytes.
  assert.deepEqual(nonLegacy.encode('😀', { addSpecialTokens: false }), [
    29871,
    3 + 0xf0,
    3 + 0x9f,
    3 + 0x98,
    3 + 0x80,
  ]);
  assert.equal(nonLegacy.decode([3 + 0xf0, 3 + 0x9f, 3 + 0x98, 3 + 0x80]), '😀');
  assert.equal(nonLegacy.decode([319, 3 + 0xe2, 3 + 0x9d, 3 + 0xa4]), 'A❤');
});

test('decode(golden ids) gives the text back for every string without special tokens or a literal ▁, both legacy', () => {
  let withBytes = 0;
  for (const c of cases) {
    if (SPECIAL_TEXT.test(c.text) || c.text.includes('\u2581')) continue;
    assert.equal(legacy.decode(c.ids_legacy, { skipSpecialTokens: true }), c.text, JSON.stringify(c.text));
    assert.equal(nonLegacy.decode(c.ids_non_legacy, { skipSpecialTokens: true }), c.text, JSON.stringify(c.text));
    if (c.ids_legacy.some((id) => id >= 3 && id <= 258 && id !== 13)) withBytes++;
  }
  assert.ok(withBytes > 20, `only ${withBytes} strings with byte-fallback pieces other than <0x0A>`);
});

test('a folder with neither tokenizer file says so; a corrupt tokenizer.model is a clear error naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llava-spm-'));
  try {
    assert.throws(() => TextTokenizer.fromDir(dir), /has neither tokenizer\.json nor SentencePiece's tokenizer\.model/);
    writeFileSync(join(dir, 'tokenizer.model'), 'not really a model');
    assert.throws(
      () => TextTokenizer.fromDir(dir),
      new RegExp(
        `${join(dir, 'tokenizer.model').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a SentencePiece ModelProto`,
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tokenizer.json wins over tokenizer.model when a folder has both', () => {
  // A one-piece vocabulary beside LLaMA's model: if the model were read, "A" would be 319.
  const tinyJson = {
    model: { type: 'BPE', vocab: { A: 0 }, merges: [] },
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
  };
  withTokenizerDir(false, { 'tokenizer.json': tinyJson }, (dir) => {
    assert.deepEqual(TextTokenizer.fromDir(dir).encode('A', { addSpecialTokens: false }), [0]);
  });
});

test('a malformed tokenizer.json is a clear error naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llava-badtok-'));
  try {
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    assert.throws(
      () => TextTokenizer.fromDir(dir),
      new RegExp(`cannot read ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/tokenizer\\.json`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
