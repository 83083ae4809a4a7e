// tokenizer.model -> tokenizer.json: the ModelProto reader (the golden LLaMA model, and hand-built protos written
// with @bufbuild/protobuf's BinaryWriter), SentencePieceExtractor's merges (by hand and against LLaMA's own
// tokenizer.json), the added tokens the checkpoint files declare, and what is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { Tokenizer } from '@huggingface/tokenizers';
import { parseSentencePieceModel, PieceType } from '../../src/text/sentencepiece-model.js';
import { convertLlamaSentencePiece, extractMerges } from '../../src/text/sentencepiece-convert.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { tokenizerImageToken } from '../../src/text/image-token.js';
import { llamaTokenizerJson } from '../helpers/text-llama-tokenizer.js';
import { readJsonl } from '../helpers/text-golden.js';
import { goldenTokenizerConfig, goldenTokenizerDir, withTokenizerDir } from './tokenizer-dirs.js';

const MODEL_PATH = join(goldenTokenizerDir(false), 'tokenizer.model');
const golden = parseSentencePieceModel(readFileSync(MODEL_PATH), MODEL_PATH);
const cases = readJsonl<{ text: string; ids_legacy: number[]; ids_non_legacy: number[] }>('tokenizer_cases.jsonl');
const SPECIALS = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<unk>' };

interface ProtoPiece {
  piece: string;
  score?: number;
  type?: number;
}
/** A ModelProto written field by field; `extra` appends raw fields the reader must skip. */
function modelProto(
  pieces: ProtoPiece[],
  trainer: { modelType?: number; byteFallback?: boolean } = { modelType: 2, byteFallback: true },
  normalizer: { name?: string; removeExtraWhitespaces?: boolean } = { name: 'identity', removeExtraWhitespaces: false },
): Uint8Array {
  const w = new BinaryWriter();
  for (const p of pieces) {
    w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(p.piece);
    if (p.score !== undefined) w.tag(2, WireType.Bit32).float(p.score);
    if (p.type !== undefined) w.tag(3, WireType.Varint).int32(p.type);
    w.tag(200, WireType.Varint).int32(7); // an extension field
    w.join();
  }
  w.tag(2, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).string('corpus.txt'); // TrainerSpec.input, skipped
  if (trainer.modelType !== undefined) w.tag(3, WireType.Varint).int32(trainer.modelType);
  if (trainer.byteFallback !== undefined) w.tag(35, WireType.Varint).bool(trainer.byteFallback);
  w.join();
  w.tag(3, WireType.LengthDelimited).fork();
  if (normalizer.name !== undefined) w.tag(1, WireType.LengthDelimited).string(normalizer.name);
  if (normalizer.removeExtraWhitespaces !== undefined)
    w.tag(4, WireType.Varint).bool(normalizer.removeExtraWhitespaces);
  w.join();
  w.tag(4, WireType.LengthDelimited).bytes(new Uint8Array([10, 0])); // self_test_data, skipped
  return w.finish();
}
const LLAMA_HEAD: ProtoPiece[] = [
  { piece: '<unk>', score: 0, type: PieceType.UNKNOWN },
  { piece: '<s>', score: 0, type: PieceType.CONTROL },
  { piece: '</s>', score: 0, type: PieceType.CONTROL },
];

test('the golden tokenizer.model decodes to the layout its README describes', () => {
  // README: 0 <unk> UNKNOWN, 1 <s> and 2 </s> CONTROL, 3–258 <0x00>…<0xFF> BYTE, NORMAL from 259 with score
  // −(id−259), except the 15 pieces made only of ▁ that score −1e9; BPE, byte fallback, identity normalizer.
  assert.equal(golden.pieces.length, 32000);
  assert.deepEqual(
    golden.pieces.slice(0, 3).map((p) => [p.piece, p.type]),
    [
      ['<unk>', PieceType.UNKNOWN],
      ['<s>', PieceType.CONTROL],
      ['</s>', PieceType.CONTROL],
    ],
  );
  golden.pieces.slice(3, 259).forEach((p, b) => {
    assert.deepEqual([p.piece, p.type], [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, PieceType.BYTE]);
  });
  let whitespaceRuns = 0;
  golden.pieces.slice(259).forEach((p, i) => {
    const run = /^\u2581{2,}$/.test(p.piece);
    if (run) whitespaceRuns++;
    assert.equal(p.type, PieceType.NORMAL);
    assert.equal(p.score, run ? -1e9 : -i, `${i + 259} ${p.piece}`);
  });
  assert.equal(whitespaceRuns, 15);
  assert.deepEqual(golden.trainerSpec, { modelType: 2, byteFallback: true, unkPiece: '<unk>' });
  assert.deepEqual(golden.normalizerSpec, {
    name: 'identity',
    precompiledCharsmapBytes: 0,
    addDummyPrefix: true,
    removeExtraWhitespaces: false,
    escapeWhitespaces: true,
  });
});

test('absent fields take the .proto defaults; unknown fields and extensions are skipped', () => {
  const m = parseSentencePieceModel(modelProto([{ piece: 'a' }, { piece: 'b', score: -1.5, type: 6 }], {}, {}), 'x');
  assert.deepEqual(m.pieces, [
    { piece: 'a', score: 0, type: PieceType.NORMAL },
    { piece: 'b', score: -1.5, type: PieceType.BYTE },
  ]);
  assert.deepEqual(m.trainerSpec, { modelType: 1, byteFallback: false, unkPiece: '<unk>' });
  assert.deepEqual(m.normalizerSpec, {
    name: '',
    precompiledCharsmapBytes: 0,
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  });
});

test('bytes that are not a ModelProto are refused, naming the file and the field', () => {
  const wrongWire = new BinaryWriter().tag(1, WireType.Varint).int32(3).finish();
  assert.throws(
    () => parseSentencePieceModel(wrongWire, 'm.model'),
    /m\.model is not a SentencePiece ModelProto: ModelProto field 1 has wire type Varint, the schema says LengthDelimited/,
  );
  const truncated = modelProto(LLAMA_HEAD).slice(0, 9);
  assert.throws(() => parseSentencePieceModel(truncated, 'm.model'), /m\.model is not a SentencePiece ModelProto/);
  assert.throws(() => parseSentencePieceModel(new Uint8Array(), 'm.model'), /it has no pieces/);
  const badType = modelProto([{ piece: 'a', type: 9 }]);
  assert.throws(() => parseSentencePieceModel(badType, 'm.model'), /pieces\[0\] has unknown type 9/);
});

test('merges by hand: every two-piece split, by the whole piece’s score, ties in vocabulary order', () => {
  const pieces = [
    { piece: 'ab', score: -4 },
    { piece: 'a', score: -1 },
    { piece: 'b', score: -2 },
    { piece: 'c', score: -3 },
    { piece: 'bc', score: -6 },
    { piece: 'ba', score: -4 },
    { piece: 'abc', score: -5 },
  ];
  // ab (id 0) and ba (id 5) tie at −4 and keep vocabulary order; abc's splits ab|c (ids 0,3) and a|bc (1,4) sort by
  // the left half's id, not by where the split falls; single characters have no split.
  assert.deepEqual(extractMerges(pieces), [
    ['a', 'b'],
    ['b', 'a'],
    ['ab', 'c'],
    ['a', 'bc'],
    ['b', 'c'],
  ]);
});

test("converted vocabulary and merges equal LLaMA's tokenizer.json (llama-tokenizer-js) up to the order of ▁-run ties", () => {
  const ours = convertLlamaSentencePiece(
    golden,
    { legacy: true, addBosToken: true, addEosToken: false, specialTokens: SPECIALS },
    MODEL_PATH,
  ) as { model: { vocab: Record<string, number>; merges: [string, string][] } };
  const theirs = llamaTokenizerJson() as { model: { vocab: Record<string, number>; merges: string[] } };
  assert.deepEqual(ours.model.vocab, theirs.model.vocab);
  const merges = ours.model.merges.map((m) => m.join(' '));
  assert.equal(merges.length, theirs.model.merges.length);
  // The 15 ▁-run pieces all score −1e9, so their merges come last in both lists, in an order only ties decide.
  const onlyRuns = (m: string) => /^\u2581+ \u2581+$/.test(m);
  const tail = merges.findIndex(onlyRuns);
  assert.ok(tail > 60000, `first ▁-run merge at ${tail}`);
  assert.deepEqual(merges.slice(0, tail), theirs.model.merges.slice(0, tail));
  assert.ok(merges.slice(tail).every(onlyRuns) && theirs.model.merges.slice(tail).every(onlyRuns));
  assert.deepEqual(merges.slice(tail).sort(), theirs.model.merges.slice(tail).sort());
});

test("the converted tokenizer.json runs in the library's own fast pipeline like LlamaTokenizerFast", () => {
  // legacy: the fast tokenizer equals the slow one on every golden string. Non-legacy: it does too except on text
  // that starts with a space, where transformers' own fast tokenizer differs from the slow one (which is why
  // TextTokenizer keeps the slow rules); those strings are not compared.
  for (const legacy of [true, false]) {
    const json = convertLlamaSentencePiece(
      golden,
      { legacy, addBosToken: true, addEosToken: false, specialTokens: SPECIALS },
      MODEL_PATH,
    );
    const fast = new Tokenizer(json, {});
    let compared = 0;
    for (const c of cases) {
      if (!legacy && c.text.startsWith(' ')) continue;
      assert.deepEqual(fast.encode(c.text).ids, legacy ? c.ids_legacy : c.ids_non_legacy, JSON.stringify(c.text));
      compared++;
    }
    assert.ok(compared > 200, `${compared} strings compared`);
  }
  const withEos = convertLlamaSentencePiece(
    golden,
    { legacy: true, addBosToken: false, addEosToken: true, specialTokens: SPECIALS },
    MODEL_PATH,
  );
  assert.deepEqual(new Tokenizer(withEos, {}).encode('A chat').ids, [319, 13563, 2]);
});

test('a config without added_tokens_decoder (transformers < 4.34): added_tokens.json, special_tokens_map.json win', () => {
  const files = {
    'added_tokens.json': { '<image>': 32000, '<im_patch>': 32001 },
    // Overrides the config's pad_token <unk>; specials the vocabulary lacks are appended in attribute order.
    'special_tokens_map.json': {
      bos_token: '<s>',
      pad_token: '[PAD]',
      additional_special_tokens: ['<image>', '<im_start>'],
    },
  };
  withTokenizerDir(false, files, (dir) => {
    const tok = TextTokenizer.fromDir(dir);
    assert.deepEqual(
      ['<image>', '<im_patch>', '[PAD]', '<im_start>'].map((t) => tok.tokenToId(t)),
      [32000, 32001, 32002, 32003],
    );
    assert.equal(tok.padId, 32002);
    assert.equal(tok.vocabSize, 32004);
    // Non-legacy drops the lone ▁ before a special token (<image>, <im_start>), not before <im_patch>.
    assert.deepEqual(tok.encode('<im_start>x', { addSpecialTokens: false }), [32003, 29916]);
    assert.deepEqual(tok.encode('<image>', { addSpecialTokens: false }), [32000]);
    assert.deepEqual(tok.encode('<im_patch>', { addSpecialTokens: false }), [29871, 32001]);
    assert.equal(tok.decode([319, 32000, 32001, 32003], { skipSpecialTokens: true }), 'A<im_patch>');
  });
  withTokenizerDir(false, { 'added_tokens.json': { '<a>': 32000, '<b>': 32000 } }, (dir) => {
    assert.throws(() => TextTokenizer.fromDir(dir), /added_tokens\.json gives id 32000 to "<b>", but it is <a>/);
  });
  withTokenizerDir(false, { 'added_tokens.json': { '<a>': -1 } }, (dir) => {
    assert.throws(() => TextTokenizer.fromDir(dir), /added_tokens\.json has an entry that is not .*"<a>" -1/);
  });
  withTokenizerDir(false, { 'added_tokens.json': { '<image>': 5 } }, (dir) => {
    assert.throws(() => TextTokenizer.fromDir(dir), /added_tokens\.json gives id 5 to "<image>", but it is <0x02>/);
  });
});

test('a config with added_tokens_decoder (llava-hf style) is the whole truth: the other two files are not read', () => {
  const config = {
    ...goldenTokenizerConfig(false),
    added_tokens_decoder: { '32000': { content: '<image>', special: true, normalized: false } },
  };
  const files = {
    'tokenizer_config.json': config,
    'added_tokens.json': { '<x>': 32001 },
    'special_tokens_map.json': { pad_token: '[PAD]' },
  };
  withTokenizerDir(false, files, (dir) => {
    const tok = TextTokenizer.fromDir(dir);
    assert.equal(tok.tokenToId('<image>'), 32000);
    assert.equal(tok.tokenToId('<x>'), undefined);
    assert.equal(tok.tokenToId('[PAD]'), undefined);
    assert.equal(tok.padId, 0);
    assert.equal(tok.vocabSize, 32001);
    // The same ids as the tokenizer.json route in image-token.test.ts, with 32000 for the image.
    assert.deepEqual(
      tokenizerImageToken(tok, 'USER: <image>\nWhat', { imageTokenId: 32000 }),
      [1, 3148, 1001, 29901, 29871, 32000, 29871, 13, 5618],
    );
  });
});

test('models whose slow tokenizer would tokenize differently are refused with the reason', () => {
  const ok = modelProto([
    ...LLAMA_HEAD,
    { piece: '\u2581', score: -1 },
    { piece: 'a', score: -2 },
    { piece: '\u2581a', score: -3 },
  ]);
  const refusals: [Uint8Array, RegExp][] = [
    [modelProto([...LLAMA_HEAD, { piece: 'a' }], { modelType: 1, byteFallback: true }), /model_type is 1, not BPE/],
    [modelProto([...LLAMA_HEAD, { piece: 'a' }], { modelType: 2, byteFallback: false }), /byte_fallback is false/],
    [modelProto([...LLAMA_HEAD, { piece: 'a' }], undefined, { name: 'nmt_nfkc' }), /normalizer_spec 'nmt_nfkc'/],
    [modelProto([LLAMA_HEAD[1]!, LLAMA_HEAD[0]!, LLAMA_HEAD[2]!]), /pieces 0, 1, 2 are not/],
    [modelProto([...LLAMA_HEAD, { piece: '<x>', type: PieceType.USER_DEFINED }]), /piece 3 "<x>" is USER_DEFINED/],
  ];
  withTokenizerDir(false, { 'tokenizer.model': ok }, (dir) => {
    assert.deepEqual(TextTokenizer.fromDir(dir).encode('a a'), [1, 5, 5]);
  });
  for (const [bytes, why] of refusals) {
    withTokenizerDir(false, { 'tokenizer.model': bytes }, (dir) => {
      assert.throws(
        () => TextTokenizer.fromDir(dir),
        (err: Error) => {
          assert.match(err.message, why);
          assert.ok(err.message.includes(join(dir, 'tokenizer.model')), err.message);
          return true;
        },
      );
    });
  }
});
