// The offline teacher end to end through the project's own clients: the data engine's three prompt types on five
// scenes (every reply parsed, none rejected, every object it names is in the scene), LLaVA-Bench reference
// answers, and the judge, which must score a true answer above the same answer with its facts changed.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import {
  DEFAULT_PRICES,
  DEFAULT_PROMPTS_DIR,
  DETAIL_INSTRUCTIONS,
  loadPromptSet,
  PROMPT_TYPES,
  runDatagen,
} from '../../src/datagen/index.js';
import { parseScore, readJsonl, readJudgeInputs, runJudge, runReference } from '../../src/eval/index.js';
import { writeBench } from '../../src/demo/bench.js';
import { claimsOf } from '../../src/demo/grade.js';
import { startTeacher, type Teacher } from '../../src/demo/teacher.js';
import { makeWorld, sceneContext, type Scene } from '../../src/demo/world.js';

const RULES = resolve('../shared/reference/llava-data/llava/eval/table/rule.json');
const tmp = mkdtempSync(join(tmpdir(), 'llava-teacher-'));
let teacher: Teacher;
before(async () => (teacher = await startTeacher()));
after(async () => {
  await teacher.close();
  rmSync(tmp, { recursive: true, force: true });
});

const client = () => ({
  baseURL: teacher.baseUrl,
  apiKey: 'none',
  model: 'world-teacher',
  timeoutMs: 5000,
  maxRetries: 0,
});
const { train, heldOut } = makeWorld({ seed: 0, trainImages: 5, heldOutImages: 4 });
const COLOUR_SHAPE = /\b(red|green|blue|yellow|purple|orange) (circle|square|triangle|cross)\b/g;

/** Objects named in sentences that do not deny them, missing from the scene. */
function falseMentions(scene: Scene, text: string): string[] {
  return text
    .split(/[.?!\n]/)
    .filter((s) => !/\bno\b|\bnot\b/i.test(s))
    .flatMap((s) => [...s.matchAll(COLOUR_SHAPE)])
    .filter(([, c, sh]) => !scene.objects.some((o) => o.colour === c && o.shape === sh))
    .map((m) => m[0]);
}

test('the data engine against the teacher: all three types for every scene, no rejects, only true objects', async () => {
  const out = join(tmp, 'datagen');
  const summary = await runDatagen({
    contexts: train.map((s) => sceneContext(s)),
    prompts: await Promise.all(PROMPT_TYPES.map((t) => loadPromptSet(DEFAULT_PROMPTS_DIR, t))),
    instructions: DETAIL_INSTRUCTIONS,
    outDir: out,
    client: client(),
    concurrency: 2,
    seed: 0,
    placement: 'first',
    cacheDir: null,
    prices: DEFAULT_PRICES,
    maxConsecutiveFailures: 3,
    progress: null,
  });
  assert.deepEqual(summary.records, { conversation: 5, detail_description: 5, complex_reasoning: 5 });
  assert.deepEqual(summary.rejects, {});
  assert.equal(summary.failed, 0);
  assert.ok(summary.requests.usage.completionTokens > 0);
  for (const type of PROMPT_TYPES) {
    for (const { value } of readJsonl(join(out, `${type}.jsonl`))) {
      const record = value as { id: string; conversations: { from: string; value: string }[] };
      const scene = train.find((s) => s.id === record.id)!;
      const turns = record.conversations.length / 2;
      assert.ok(type === 'conversation' ? turns >= 3 : turns === 1, `${type} ${turns} turns`);
      for (let i = 0; i < record.conversations.length; i += 2) {
        const question = record.conversations[i]!.value.replace('<image>\n', '');
        const answer = record.conversations[i + 1]!.value;
        assert.deepEqual(falseMentions(scene, answer), [], answer);
        // Places, sizes and counts too, read as the judge reads them, against the true boxes: the conversation
        // prompt shows captions only, so this checks the places the captions gave back.
        assert.deepEqual(claimsOf(scene, question, answer).false, [], `${question}\n${answer}`);
      }
    }
  }
});

test('anything else gets an OpenAI-style 400 naming what was not understood; /v1/models lists the teacher', async () => {
  const models = await (await fetch(`${teacher.baseUrl}/models`)).json();
  assert.equal(models.data[0].id, 'world-teacher');
  const r = await fetch(`${teacher.baseUrl}/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({
      model: 'x',
      messages: [
        { role: 'system', content: 'Write a poem.' },
        { role: 'user', content: 'Hi' },
      ],
    }),
  });
  assert.equal(r.status, 400);
  const body = await r.json();
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, /neither the judge, a reference answerer nor a data-engine prompt/);
});

const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'];
const NUMBERS = ['one', 'two', 'three', 'four'];
/** The same answer with every colour, count and side changed: all its facts false. */
const falsified = (text: string) =>
  text
    .replace(/\b(red|green|blue|yellow|purple|orange)\b/g, (c) => COLOURS[(COLOURS.indexOf(c) + 1) % 6]!)
    .replace(/\b(one|two|three|four)\b/g, (n) => NUMBERS[(NUMBERS.indexOf(n) + 1) % 4]!)
    .replace(
      /\b(left|right|top|bottom)\b/g,
      (w) => ({ left: 'right', right: 'left', top: 'bottom', bottom: 'top' })[w]!,
    );

test('reference answers and the judge: parsed scores, the true answer above the falsified one', async () => {
  const { questions, context } = writeBench(tmp, heldOut, 0);
  const common = { client: client(), concurrency: 2, cacheDir: null, prices: {}, progress: null };
  const reference = join(tmp, 'reference.jsonl');
  const ref = await runReference({ ...common, questions, context, bench: 'coco', output: reference });
  assert.equal(ref.stopped, null);
  const refs = readJsonl(reference).map((l) => l.value as { question_id: number; text: string });
  assert.equal(refs.length, 12);
  refs.forEach((r) => assert.deepEqual(falseMentions(heldOut[Math.floor(r.question_id / 3)]!, r.text), [], r.text));

  const scores = async (name: string, text: (t: string) => string) => {
    const answers = join(tmp, `${name}.jsonl`);
    const line = (r: (typeof refs)[number]) =>
      JSON.stringify({
        question_id: r.question_id,
        prompt: '',
        text: text(r.text),
        answer_id: `a${r.question_id}`,
        model_id: name,
        metadata: {},
      });
    writeFileSync(answers, refs.map((r) => `${line(r)}\n`).join(''));
    const output = join(tmp, `review-${name}.jsonl`);
    const items = readJudgeInputs({ questions, context, referenceAnswers: reference, answers, rules: RULES }).items;
    const summary = await runJudge({ ...common, items, output });
    assert.equal(summary.parseFailures, 0);
    return readFileSync(output, 'utf8')
      .trim()
      .split('\n')
      .map((l) => parseScore(JSON.parse(l).content).pair.scores);
  };
  const same = await scores('same', (t) => t);
  const wrong = await scores('wrong', falsified);
  assert.ok(
    same.every(([a, b]) => a === b && a >= 8),
    JSON.stringify(same),
  );
  wrong.forEach(([a, b], i) => assert.ok(b < a && b <= same[i]![1]! - 3, `question ${i}: ${a} ${b}`));
});
