// Prompts, input ids (-200 for the image), labels and mismatch flags against ../shared/golden/llava_preprocess:
// what LLaVA's own preprocessing produced with the real LLaMA tokenizer, for v1, plain and llava_llama_2, legacy on
// and off, loaded from the same tokenizer.model (no tokenizer.json). Also the reference collator's batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { conversationTemplate } from '../../src/text/conversation.js';
import { placeImage } from '../../src/text/image-placement.js';
import { preprocess, type Preprocessed } from '../../src/text/preprocess.js';
import { collate } from '../../src/data/collate.js';
import { goldenSamples, readJsonl, type GoldenBatch, type GoldenCase } from '../helpers/text-golden.js';
import { goldenTokenizerDir } from './tokenizer-dirs.js';

const tokenizers = new Map([true, false].map((legacy) => [legacy, TextTokenizer.fromDir(goldenTokenizerDir(legacy))]));
// train.py: conversation_lib.default_conversation = conv_templates[version]
const templateOf = (version: string) => conversationTemplate(version);
const samples = new Map(goldenSamples().map((s) => [s.id, s]));
const cases = readJsonl<GoldenCase>('cases.jsonl');

/** LazySupervisedDataset.__getitem__ on one sample: preprocess_multimodal only when it has an image. */
function run(c: GoldenCase): Preprocessed {
  const sample = samples.get(c.id)!;
  const hasImage = sample.image !== undefined;
  const turns = hasImage ? placeImage(sample.conversations, { placement: 'first' }) : sample.conversations;
  return preprocess(tokenizers.get(c.legacy)!, templateOf(c.version), turns, { hasImage });
}

test('golden set is the one described (162 cases, 10 batches)', () => {
  assert.equal(cases.length, 162);
  assert.equal(readJsonl<GoldenBatch>('batches.jsonl').length, 10);
});

for (const c of cases) {
  test(`${c.version} legacy=${c.legacy} ${c.id}`, () => {
    if (!c.applicable) {
      assert.throws(() => run(c), /plain \(stage-1\) samples need/);
      return;
    }
    const sample = samples.get(c.id)!;
    if (sample.image !== undefined && c.version !== 'plain') {
      assert.deepEqual(placeImage(sample.conversations, { placement: 'first' }), c.sources);
    }
    const got = run(c);
    assert.equal(got.prompt, c.prompt);
    assert.deepEqual(got.inputIds, c.input_ids);
    assert.deepEqual(got.labels, c.labels);
    assert.deepEqual(
      got.mismatch && { cur_len: got.mismatch.curLen, total_len: got.mismatch.totalLen },
      c.mismatch && { cur_len: c.mismatch.cur_len, total_len: c.mismatch.total_len },
    );
    assert.equal(
      got.labels.every((l) => l === -100),
      c.all_labels_masked,
    );
  });
}

test('collated batches equal the reference collator (pad = unk = 0, truncation to 2048)', () => {
  for (const b of readJsonl<GoldenBatch>('batches.jsonl')) {
    const examples = b.ids.map((id) =>
      run(cases.find((c) => c.id === id && c.version === b.version && c.legacy === b.legacy)!),
    );
    const batch = collate(examples, { padTokenId: 0, maxLength: 2048 });
    const [B, T] = batch.shape;
    const rows = (a: ArrayLike<bigint | number>) =>
      Array.from({ length: B }, (_, i) => Array.from({ length: T }, (_, t) => Number(a[i * T + t])));
    const where = `${b.version} legacy=${b.legacy} ${b.ids.join(',')}`;
    assert.deepEqual(rows(batch.inputIds), b.input_ids, where);
    assert.deepEqual(rows(batch.labels), b.labels, where);
    assert.deepEqual(
      rows(batch.attentionMask),
      b.attention_mask.map((r) => r.map(Number)),
      where,
    );
  }
});

test('a real <unk> in the text counts as padding in the length check, so the sample is masked (pad = unk)', () => {
  // Hand-derived from §4.3: total_len = ids != pad(0) misses the <unk>, cur_len counts it, the two differ by one.
  const tok = tokenizers.get(false)!;
  const turns = [
    { from: 'human', value: 'Q' },
    { from: 'gpt', value: 'A <unk> B' },
  ];
  const out = preprocess(tok, templateOf('v1'), turns, { hasImage: false });
  assert.ok(out.inputIds.includes(0));
  assert.deepEqual(out.mismatch, { curLen: out.inputIds.length, totalLen: out.inputIds.length - 1 });
  assert.ok(out.labels.every((l) => l === -100));
});

test('templates without a reference training path (v0, mpt) are refused by name', () => {
  assert.throws(
    () =>
      preprocess(tokenizers.get(true)!, templateOf('llava_v0'), [{ from: 'human', value: 'Q' }], { hasImage: false }),
    /template 'llava_v0' .*implemented for v1, llama_2 and plain/,
  );
});
