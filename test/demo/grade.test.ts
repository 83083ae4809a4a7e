// The offline judge's scores on a scene built here, worked out by hand from its rule (10, minus 3 per false
// claim and 1.5 per fact left out, rounded; at most 3 without a true claim; at least 1), and its reply read back
// by the reference's parse_score from a prompt built by the project's own judgePrompt.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderContext } from '../../src/datagen/context.js';
import { judgePrompt, parseScore } from '../../src/eval/index.js';
import { judgeReply, parseJudgePrompt, scoreAnswer } from '../../src/demo/grade.js';
import { sceneContext, type Scene } from '../../src/demo/world.js';

// A small red circle on the left (centre x 11 of 64, y 27: the middle band) and a large blue square at the
// bottom right (centre 51, 47).
const scene: Scene = {
  id: 'w000001',
  objects: [
    { shape: 'circle', colour: 'red', size: 'small', box: [4, 20, 18, 34] },
    { shape: 'square', colour: 'blue', size: 'large', box: [40, 36, 62, 58] },
  ],
};

test('short answers score the question they answer', () => {
  const score = (q: string, a: string) => scoreAnswer(scene, q, a).score;
  assert.equal(score('What colour is the circle?', 'red'), 10);
  assert.equal(score('What colour is the circle?', 'blue'), 3); // 10 - 3 - 1.5 = 5.5 -> 6, capped at 3
  assert.equal(score('How many shapes are in the image?', '2'), 10);
  assert.equal(score('How many shapes are in the image?', '3'), 3);
  assert.equal(score('Is there a blue square in the image?', 'Yes'), 10);
  assert.equal(score('Is there a blue square in the image?', 'No'), 3);
  assert.equal(score('Is there a red square in the image?', 'No'), 10);
  assert.equal(score('Is the square on the left or the right of the image?', 'right'), 10);
});

test('long answers: each true claim counts, false ones cost more than missing ones', () => {
  const describe = (a: string) => scoreAnswer(scene, 'Describe the image.', a);
  const full = describe(
    'There are two shapes: a small red circle on the left and a large blue square at the bottom right.',
  );
  assert.deepEqual(full.claims.false, []);
  assert.equal(full.claims.true.length, 5); // the count, two objects with their sizes, two places
  assert.equal(full.score, 10);
  assert.equal(describe('There is a red circle.').score, 7); // 1 true of 3 facts: 10 - 1.5 * 2
  const wrong = describe('There are three shapes: a green circle and a blue square on the left.');
  assert.deepEqual(wrong.claims.false, ['three shapes', 'green circle', 'square on the left']);
  assert.equal(wrong.score, 1);
  // A denial is a claim too: "no yellow cross" is true here.
  assert.deepEqual(describe('There is no yellow cross.').claims.true, ['no yellow cross']);
});

test('the judge reply: the two scores on the first line, parsed as the reference parses them', () => {
  const context = renderContext(sceneContext(scene), true);
  const rule = { role: 'Assistant', prompt: 'Rate the two answers.' };
  const prompt = judgePrompt(context, 'What colour is the circle?', 'The circle is red.', 'The circle is blue.', rule);
  assert.deepEqual(parseJudgePrompt(prompt)?.answers, ['The circle is red.', 'The circle is blue.']);
  const reply = judgeReply(prompt)!;
  assert.deepEqual(parseScore(reply).pair, { ok: true, scores: [10, 3] });
  assert.match(reply, /Assistant 2 makes 0 true and 1 false statements about the image \(wrong: circle is blue\)/);
  assert.equal(judgeReply('[Context]\nno judge prompt'), undefined);
});
