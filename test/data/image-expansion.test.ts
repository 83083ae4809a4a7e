// The second truncation: after each image id becomes its feature positions (hand-computed layouts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandImages } from '../../src/data/image-expansion.js';

test('each -200 becomes featuresPerImage ignored positions; text labels keep their order', () => {
  const r = expandImages([1, 5, -200, 7, 8], [-100, -100, -100, 7, 8], { featuresPerImage: 3 });
  assert.deepEqual(Array.from(r.labels), [-100, -100, -100, -100, -100, 7, 8]);
  assert.deepEqual(r.imageStarts, [2]);
  assert.equal(r.fullLength, 7);
});

test('the spliced sequence is cut to tokenizer_model_max_length (length grows by features - 1 per image)', () => {
  const r = expandImages([1, -200, 4, -200, 6], [-100, -100, 4, -100, 6], { featuresPerImage: 4, maxLength: 8 });
  assert.equal(r.fullLength, 5 + 2 * 3);
  assert.deepEqual(Array.from(r.labels), [-100, -100, -100, -100, -100, 4, -100, -100]);
  assert.deepEqual(r.imageStarts, [1, 6]);
});

test('a llava-hf image token id is expanded the same way; mismatched lengths are an error', () => {
  assert.deepEqual(
    Array.from(expandImages([1, 32000, 9], [-100, -100, 9], { featuresPerImage: 2, imageTokenId: 32000 }).labels),
    [-100, -100, -100, 9],
  );
  assert.throws(() => expandImages([1, 2], [1], { featuresPerImage: 1 }), /2 ids but 1 labels/);
});
