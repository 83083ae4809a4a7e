// The short-answer questions: every answer checked against the scene by independent rules (box centres against
// the image's thirds), existence exactly balanced with adversarial negatives, and the POPE label files scored
// by the project's own eval_pope port.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { evalPope } from '../../src/eval/pope.js';
import { readQuestionFile } from '../../src/eval/questions.js';
import { sceneConversations, worldTexts } from '../../src/demo/texts.js';
import { sceneContext } from '../../src/demo/world.js';
import { CHANCE, exactMatchScores } from '../../src/demo/exact-match.js';
import { benchQuestions } from '../../src/demo/bench.js';
import {
  exactMatchQuestions,
  shortAnswerRecords,
  SHORT_ANSWER_SUFFIX,
  writeExactMatch,
} from '../../src/demo/questions.js';
import { makeWorld, type Scene } from '../../src/demo/world.js';

const tmp = mkdtempSync(join(tmpdir(), 'llava-questions-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const { train, heldOut } = makeWorld({ seed: 0, trainImages: 100, heldOutImages: 100 });
const byImage = new Map([...train, ...heldOut].map((s) => [`${s.id}.png`, s]));

/** The true answer, worked out here from the objects and their boxes. */
function truth(scene: Scene, question: string): string | undefined {
  let m = /^What colour is the (\w+)\?$/.exec(question);
  if (m) return scene.objects.find((o) => o.shape === m![1])?.colour;
  if (question === 'How many shapes are in the image?') return String(scene.objects.length);
  m = /^Is the (\w+) on the left or the right of the image\?$/.exec(question);
  if (m) {
    const o = scene.objects.find((o) => o.shape === m![1])!;
    const cx = (o.box[0] + o.box[2]) / 2;
    return cx < 0.4 * 64 ? 'left' : cx > 0.6 * 64 ? 'right' : 'neither';
  }
  m = /^Is there an? (\w+) (\w+) in the image\?$/.exec(question);
  if (m) return scene.objects.some((o) => o.colour === m![1] && o.shape === m![2]) ? 'yes' : 'no';
  return undefined;
}

test('held-out exact-match questions: true answers, the short-answer suffix, every kind, existence balanced', () => {
  const lines = exactMatchQuestions(heldOut, 0);
  assert.deepEqual(
    lines.map((l) => l.question_id),
    lines.map((_, i) => i),
  );
  for (const l of lines) {
    assert.ok(l.text.endsWith(SHORT_ANSWER_SUFFIX));
    assert.equal(l.category, l.kind);
    assert.equal(l.answer, truth(byImage.get(l.image)!, l.text.slice(0, -SHORT_ANSWER_SUFFIX.length)), l.text);
  }
  const kinds = (k: string) => lines.filter((l) => l.kind === k);
  assert.equal(kinds('colour').length, 100);
  assert.equal(kinds('count').length, 100);
  assert.ok(kinds('position').length > 50);
  const existence = kinds('existence');
  assert.equal(existence.filter((l) => l.answer === 'yes').length, 100);
  assert.equal(existence.filter((l) => l.answer === 'no').length, 100);
  // Half the negatives name a shape the image has, in another colour.
  const sameShape = existence.filter((l) => {
    const shape = / (\w+) in the image/.exec(l.text)![1];
    return l.answer === 'no' && byImage.get(l.image)!.objects.some((o) => o.shape === shape);
  });
  assert.ok(sameShape.length >= 50 && sameShape.length < 100, `${sameShape.length}`);
  assert.ok(new Set(kinds('count').map((l) => l.answer)).size === 4);
});

test('POPE files: a perfect answer file scores 1.0, an all-yes one 0.5 with yes ratio 1', () => {
  const lines = exactMatchQuestions(heldOut.slice(0, 20), 0);
  const { questions, popeDir } = writeExactMatch(tmp, lines);
  const answers = (text: (l: (typeof lines)[number]) => string) => {
    const path = join(tmp, 'answers.jsonl');
    writeFileSync(
      path,
      lines.map((l) => `${JSON.stringify({ question_id: l.question_id, text: text(l) })}\n`).join(''),
    );
    return evalPope({ annotationDir: popeDir, questionFile: questions, resultFile: path, byId: true })[0]!;
  };
  // The answer scripts' reader takes the file as it takes the reference's question files.
  assert.deepEqual(
    readQuestionFile(questions).map((q) => [q.questionId, q.image, q.text]),
    lines.map((l) => [l.question_id, l.image, l.text]),
  );
  const perfect = answers((l) => (l.kind === 'existence' ? (l.answer === 'yes' ? 'Yes' : 'No') : l.answer));
  assert.equal(perfect.category, 'existence');
  assert.equal(perfect.accuracy, 1);
  const yes = answers(() => 'Yes');
  assert.equal(yes.accuracy, 0.5);
  assert.equal(yes.yesRatio, 1);
});

test('training mix: one multi-turn record per train image, <image> once up front, every answer true', () => {
  const records = shortAnswerRecords(train, 0);
  assert.equal(records.length, 100);
  for (const r of records) {
    const scene = byImage.get(r.image)!;
    assert.equal(r.id, scene.id);
    assert.ok(r.conversations.length >= 6 && r.conversations.length <= 12);
    assert.equal(r.conversations.filter((t) => t.value.includes('<image>')).length, 1);
    assert.ok(r.conversations[0]!.value.startsWith('<image>\n'));
    for (let i = 0; i < r.conversations.length; i += 2) {
      const [human, gpt] = [r.conversations[i]!, r.conversations[i + 1]!];
      assert.deepEqual([human.from, gpt.from], ['human', 'gpt']);
      const question = human.value.replace('<image>\n', '').slice(0, -SHORT_ANSWER_SUFFIX.length);
      assert.equal(gpt.value, truth(scene, question), question);
    }
  }
});

test('bench questions: conv, detail and complex per image, numbered from 0', () => {
  const qs = benchQuestions(heldOut.slice(0, 10), 0);
  assert.equal(qs.length, 30);
  assert.deepEqual(
    qs.slice(0, 3).map((q) => [q.question_id, q.image, q.category]),
    [
      [0, 'w500000.png', 'conv'],
      [1, 'w500000.png', 'detail'],
      [2, 'w500000.png', 'complex'],
    ],
  );
  assert.ok(qs.every((q) => q.text.length > 10 && !q.text.includes('undefined')));
});

test('worldTexts: every caption, question and answer the world can show the language model, the same each time', () => {
  const scenes = heldOut.slice(0, 5);
  const texts = worldTexts(scenes, 0);
  assert.deepEqual(worldTexts(scenes, 0), texts);
  const all = new Set(texts);
  for (const l of exactMatchQuestions(scenes, 0)) assert.ok(all.has(l.text) && all.has(l.answer));
  for (const q of benchQuestions(scenes, 0)) assert.ok(all.has(q.text));
  assert.ok(texts.some((t) => t.startsWith('Question:') === false && t.includes('From left to right')));
});

test('sceneConversations: the v1 template with the inventory caption where the image goes, true answers', () => {
  const scenes = train.slice(0, 20);
  const conversations = sceneConversations(scenes, 0, 2, 10);
  assert.equal(conversations.length, 40);
  // vicuna_v1's system prompt and separators, as the spec gives them
  const system =
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";
  conversations.forEach((text, k) => {
    const scene = scenes[k % 20]!;
    const caption = sceneContext(scene, 0).captions[0]!;
    assert.ok(text.startsWith(`${system} USER: ${caption}\n`), text);
    assert.ok(!text.endsWith('</s>'), 'the corpus adds the final </s> itself');
    const turns = text
      .slice(system.length + 1)
      .split('</s>')
      .map((turn) =>
        /^USER: (?:.*\n)?(.+)\nAnswer the question using a single word or phrase\. ASSISTANT: (.+)$/.exec(turn),
      );
    assert.ok(turns.length >= 4 && turns.every((m) => m !== null), text);
    for (const m of turns) assert.equal(m![2], truth(scene, m![1]!), m![0]);
  });
  // the two copies ask their own draws of questions
  assert.ok(conversations.slice(0, 20).some((c, i) => c !== conversations[20 + i]));
});

test('exact-match scores per kind: normalised answers count, a missing one is wrong, chance is uniform guessing', () => {
  const lines = exactMatchQuestions(heldOut.slice(0, 10), 0);
  const dressed = (l: (typeof lines)[number]) =>
    l.kind === 'existence'
      ? l.answer === 'yes'
        ? 'Yes, there is.'
        : 'No.'
      : l.kind === 'count'
        ? ['zero', 'one', 'two', 'three', 'four'][Number(l.answer)]!
        : `${l.answer[0]!.toUpperCase()}${l.answer.slice(1)}.`;
  const all = exactMatchScores(lines, new Map(lines.map((l) => [l.question_id, dressed(l)])));
  for (const kind of ['colour', 'count', 'position', 'existence'] as const) assert.equal(all[kind].accuracy, 1, kind);
  const none = exactMatchScores(lines, new Map());
  assert.equal(none.colour.correct, 0);
  assert.equal(none.colour.total, 10);
  assert.equal(none.existence.total, 20);
  assert.deepEqual(CHANCE, { colour: 1 / 6, count: 1 / 4, position: 1 / 2, existence: 1 / 2 });
});
