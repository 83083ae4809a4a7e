// The inputs of a LLaVA-Bench judge run, read and lined up as the reference does: questions,
// reference answers and model answers zipped line by line (so the shortest file bounds the run),
// each question's context found by its image (the last context line of an image wins), its rule
// by category. Unlike the reference, lines whose question ids disagree are an error (a shuffled
// or foreign answer file would otherwise be judged against the wrong questions).

import { readFileSync } from 'node:fs';
import { readJsonlObjects } from './jsonl.js';
import { contextText, judgePrompt, parseRules, ruleCategory, type Bench } from './judge-prompt.js';
import { PyFloat, type PyValue } from './python-json.js';

export interface BenchFiles {
  questions: string;
  context: string;
  /** Assistant 1: the text-only reference answers (qa90_gpt4_answer.jsonl, answers_gpt4.jsonl). */
  referenceAnswers: string;
  /** Assistant 2: the model's answers (model_vqa format, with answer_id). */
  answers: string;
  rules: string;
  /** Told by the context lines when not given: `captions` + `instances` is COCO, `caption` is Wild. */
  bench?: Bench;
}

export interface JudgeItem {
  /** 0-based position: the review's `id` is index + 1. */
  index: number;
  questionId: PyValue;
  answer1Id: PyValue;
  answer2Id: PyValue;
  /** The reference answers' model_id (a rebuilt reference names its model), or null. */
  reference: string | null;
  /** The review's category (the rule.json key). */
  category: string;
  prompt: string;
}

export interface JudgeInputs {
  bench: Bench;
  items: JudgeItem[];
  /** Line counts differ: the run covers the first `items.length` lines of each. */
  unevenLengths: string | null;
}

const asNumber = (v: unknown) => (v instanceof PyFloat ? v.value : v);
export const sameId = (a: unknown, b: unknown) => asNumber(a) === asNumber(b);

function text(record: Record<string, unknown>, key: string, where: string): string {
  const value = record[key];
  if (typeof value !== 'string') throw new Error(`${where}: "${key}" must be a string, got ${JSON.stringify(value)}`);
  return value;
}

export function detectBench(first: Record<string, unknown> | undefined, path: string): Bench {
  if (first && 'captions' in first && 'instances' in first) return 'coco';
  if (first && 'caption' in first) return 'wild';
  throw new Error(
    `${path}: cannot tell the benchmark: expected "captions" and "instances" (COCO) or "caption" (In-the-Wild)`,
  );
}

export function readJudgeInputs(files: BenchFiles): JudgeInputs {
  const read = (path: string) => readJsonlObjects(path, { keepFloats: true });
  const questions = read(files.questions);
  const answers1 = read(files.referenceAnswers);
  const answers2 = read(files.answers);
  const contexts = read(files.context);
  let rulesJson: unknown;
  try {
    rulesJson = JSON.parse(readFileSync(files.rules, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the rules ${files.rules} (${(err as Error).message})`);
  }
  const rules = parseRules(rulesJson, files.rules);
  const bench = files.bench ?? detectBench(contexts[0]?.record, files.context);
  const byImage = new Map<unknown, { line: number; record: Record<string, unknown> }>();
  for (const c of contexts) byImage.set(c.record.image, c);

  const n = Math.min(questions.length, answers1.length, answers2.length);
  const lengths = [questions.length, answers1.length, answers2.length];
  const items: JudgeItem[] = [];
  for (let i = 0; i < n; i++) {
    const q = questions[i]!.record;
    const a1 = answers1[i]!.record;
    const a2 = answers2[i]!.record;
    const where = `${files.questions}:${i + 1}`;
    for (const [a, path] of [
      [a1, files.referenceAnswers],
      [a2, files.answers],
    ] as const) {
      if (!sameId(a.question_id, q.question_id))
        throw new Error(
          `${path}:${i + 1}: question_id ${JSON.stringify(asNumber(a.question_id))} but line ${i + 1} of ${files.questions} is question ${JSON.stringify(asNumber(q.question_id))}: answer files must list the questions in the same order`,
        );
    }
    if (!('answer_id' in a2)) throw new Error(`${files.answers}:${i + 1}: the model's answer has no answer_id`);
    const context = byImage.get(q.image);
    if (!context) throw new Error(`${where}: no context line in ${files.context} for image ${JSON.stringify(q.image)}`);
    const category = ruleCategory(bench, text(q, 'category', where));
    const rule = rules.get(category);
    if (!rule) throw new Error(`${where}: category "${category}" is not in ${files.rules}`);
    items.push({
      index: i,
      questionId: q.question_id as PyValue,
      answer1Id: ('answer_id' in a1 ? a1.answer_id : a1.question_id) as PyValue,
      answer2Id: a2.answer_id as PyValue,
      reference: typeof a1.model_id === 'string' ? a1.model_id : null,
      category,
      prompt: judgePrompt(
        contextText(bench, context.record, `${files.context}:${context.line}`),
        text(q, 'text', where),
        text(a1, 'text', `${files.referenceAnswers}:${i + 1}`),
        text(a2, 'text', `${files.answers}:${i + 1}`),
        rule,
      ),
    });
  }
  const unevenLengths = lengths.every((l) => l === n)
    ? null
    : `questions ${lengths[0]}, reference answers ${lengths[1]}, answers ${lengths[2]} lines: judging the first ${n}`;
  return { bench, items, unevenLengths };
}
