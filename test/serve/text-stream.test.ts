// Streamed decoding with the LLaMA SentencePiece vocabulary: byte-fallback pieces of one character arrive in separate
// steps, and stop strings may arrive split over several tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { TextStream } from '../../src/serve/text-stream.js';
import { goldenRoot } from '../helpers/golden.js';

const dir = join(goldenRoot, 'llava_preprocess', 'tokenizer'); // LLaMA's tokenizer.model (read only)
const tokenizer = TextTokenizer.fromDir(dir);

function streamAll(text: string, stops: string[] = []): { pieces: string[]; stream: TextStream } {
  const stream = new TextStream(tokenizer, stops);
  const pieces = tokenizer.encode(text, { addSpecialTokens: false }).map((id) => stream.push(id));
  pieces.push(stream.finish());
  return { pieces, stream };
}

test('characters split over byte pieces are emitted whole, once every byte has arrived', () => {
  const text = 'Grüße 😀 and 🦙 done';
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  // The premise: some prefix of the ids decodes to a broken character (byte fallback, 3..258 are <0x00>..<0xFF>).
  assert.ok(ids.some((id) => id >= 3 && id <= 258));
  assert.ok(ids.some((_, k) => tokenizer.decode(ids.slice(0, k + 1)).endsWith('\uFFFD')));
  const { pieces, stream } = streamAll(text);
  assert.equal(pieces.join(''), text);
  assert.ok(
    pieces.every((p) => !p.includes('\uFFFD')),
    JSON.stringify(pieces),
  );
  assert.equal(stream.text, text);
});

test('a stop string ends the text before it, also when it arrives over several tokens', () => {
  const { pieces, stream } = streamAll('The answer is 4###Human: more', ['###']);
  assert.equal(pieces.join(''), 'The answer is 4');
  assert.equal(stream.stopped, true);
  assert.equal(stream.push(tokenizer.encode('x', { addSpecialTokens: false })[0]!), '');
  // A partial stop string that turns out not to be one is emitted after all.
  const partial = streamAll('a ## b', ['###']);
  assert.equal(partial.pieces.join(''), 'a ## b');
  assert.equal(partial.stream.stopped, false);
});

test('special tokens are not part of the text', () => {
  const stream = new TextStream(tokenizer);
  const ids = [...tokenizer.encode('Hello', { addSpecialTokens: false }), tokenizer.eosId!];
  assert.equal(ids.map((id) => stream.push(id)).join('') + stream.finish(), 'Hello');
});
