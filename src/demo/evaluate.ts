// The demo's evaluation of one model on the held-out split, with the project's own eval tools:
//  - exact match: model_vqa-style answers (runAnswers, greedy), scored per kind — existence by POPE's yes/no rule,
//    colour / count / position by VQA's answer normalisation (so "Three." and "3" agree);
//  - LLaVA-Bench: the model's answers to the bench questions, judged against the teacher's text-only reference
//    answers by a judge behind the same OpenAI interface; the relative score is the reference's summary.
// `withImage: false` asks the same questions with the image withheld: the blind baseline.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatRunOptions } from '../eval/chat-run.js';
import { readJudgeInputs, runJudge, runReference, summarizeFile } from '../eval/index.js';
import { runAnswers } from '../eval/answers.js';
import { readJsonlObjects } from '../eval/jsonl.js';
import { readQuestionFile } from '../eval/questions.js';
import type { LlavaForConditionalGeneration } from '../models/index.js';
import type { TextTokenizer } from '../text/tokenizer.js';
import type { ClipImageProcessor } from '../vision/clip-processor.js';
import { exactMatchScores, type KindScore } from './exact-match.js';
import type { QuestionKind, QuestionLine } from './questions.js';

export type EvalModel = {
  name: string;
  model: LlavaForConditionalGeneration;
  tokenizer: TextTokenizer;
  imageProcessor: ClipImageProcessor;
  withImage: boolean;
};

export type EvalFiles = {
  /** Exact-match questions (question_id, image, text, kind, answer) and the bench's questions, context and rules. */
  exactQuestions: string;
  exactLines: QuestionLine[];
  benchQuestions: string;
  benchContext: string;
  rules: string;
  imageFolder: string;
  outDir: string;
};

export type ModelScores = {
  name: string;
  accuracy: Record<QuestionKind, KindScore>;
  /** LLaVA-Bench relative score (model / reference × 100) per category and 'all'. */
  bench: Record<string, number>;
  /** Exact-match question_id -> the model's answer, for the report. */
  answers: Map<number, string>;
};

async function answer(m: EvalModel, questionsFile: string, f: EvalFiles, output: string, maxNewTokens: number) {
  const questions = readQuestionFile(questionsFile).map((q) => (m.withImage ? q : { ...q, image: undefined }));
  await runAnswers({
    model: m.model,
    tokenizer: m.tokenizer,
    processor: m.imageProcessor,
    aspectRatio: 'square',
    convMode: 'vicuna_v1',
    questions,
    imageFolder: f.imageFolder,
    output,
    modelId: m.name,
    batchSize: 16,
    maxNewTokens,
    temperature: 0,
    seed: 0,
    progress: null,
  });
  return new Map(readJsonlObjects(output).map(({ record }) => [Number(record.question_id), String(record.text)]));
}

/** The teacher's text-only reference answers for the bench (written once per run, shared by every model). */
export async function benchReference(f: EvalFiles, endpoint: ChatRunOptions): Promise<string> {
  const output = join(f.outDir, 'bench_reference.jsonl');
  await runReference({
    questions: f.benchQuestions,
    context: f.benchContext,
    bench: 'coco',
    output,
    ...endpoint,
    cacheDir: null,
  });
  return output;
}

export async function evaluateModel(
  m: EvalModel,
  f: EvalFiles,
  reference: string,
  judge: ChatRunOptions,
): Promise<ModelScores> {
  const file = m.name.replace(/\W+/g, '_');
  const answers = await answer(m, f.exactQuestions, f, join(f.outDir, `${file}_exact.jsonl`), 8);
  const benchAnswers = join(f.outDir, `${file}_bench.jsonl`);
  await answer(m, f.benchQuestions, f, benchAnswers, 96);
  const inputs = readJudgeInputs({
    questions: f.benchQuestions,
    context: f.benchContext,
    referenceAnswers: reference,
    answers: benchAnswers,
    rules: f.rules,
    bench: 'coco',
  });
  const reviews = join(f.outDir, `${file}_reviews.jsonl`);
  const judged = await runJudge({ items: inputs.items, output: reviews, ...judge, cacheDir: null });
  if (judged.stopped) throw new Error(`the judge stopped on ${m.name}'s answers: ${judged.stopped}`);
  const summary = summarizeFile(m.name, reviews);
  const bench = Object.fromEntries(summary.rows.map((r) => [r.key, r.relative]));
  return { name: m.name, accuracy: exactMatchScores(f.exactLines, answers), bench, answers };
}

/** The judge's rules for the demo's three categories, in the reference's rule.json form (the demo's own words). */
export function writeRules(path: string): void {
  const prompt = (what: string) =>
    `We would like to request your feedback on the performance of two AI assistants in response to the user question displayed above. The user asks a question about ${what} of a picture of coloured shapes.\nPlease rate the accuracy of their responses: every colour, shape, count and position they state is checked against the picture's description. Each assistant receives an overall score on a scale of 1 to 10, where a higher score indicates better overall performance.\nPlease first output a single line containing only two values indicating the scores for Assistant 1 and 2, respectively. The two scores are separated by a space. In the subsequent line, please provide a comprehensive explanation of your evaluation.`;
  const rules = {
    conv: { role: 'Assistant', prompt: prompt('one detail') },
    detail: { role: 'Assistant', prompt: prompt('the whole content') },
    complex: { role: 'Assistant', prompt: prompt('the relations between the objects') },
  };
  writeFileSync(path, JSON.stringify(rules, null, 2) + '\n');
}
