// Rebuilding LLaVA-Bench's text-only reference answers with any model, so the benchmark can be
// re-based on a judge one can afford (the relative score is then against that model's answers).
// As for the paper's GPT-4 answers, the model sees no image: the question with the image's
// context, rendered as the judge sees it (COCO: captions and boxes; In-the-Wild: the caption).
// Output: the qa90_gpt4_answer.jsonl form (question_id, text, category) plus model_id, which the
// judge records as the review's reference. Lines in question order, resumable (chat-run.ts).

import type { Usage } from '../datagen/client.js';
import { checkResumable, runChatTasks, type ChatRunOptions, type ChatRunSummary } from './chat-run.js';
import { contextText, type Bench } from './judge-prompt.js';
import { JsonlAppender } from './jsonl-append.js';
import { readJsonlObjects } from './jsonl.js';
import { pythonJsonDumps, type PyValue } from './python-json.js';

const SYSTEM = {
  coco:
    'You are an AI visual assistant, and you are seeing a single image. What you see is provided with five ' +
    'sentences describing the image, and the objects in it with their bounding boxes as category: [x1, y1, x2, y2], ' +
    'coordinates from 0 to 1 (top left x, top left y, bottom right x, bottom right y). Answer the question as if you ' +
    'were seeing the image yourself: do not mention the descriptions or the coordinates.',
  wild:
    'You are an AI visual assistant, and you are seeing a single image. What you see is provided with a few ' +
    'sentences describing the image. Answer the question as if you were seeing the image yourself: do not mention ' +
    'the description.',
};

export interface ReferenceOptions extends ChatRunOptions {
  questions: string;
  context: string;
  bench: Bench;
  output: string;
}

export function referenceMessages(bench: Bench, context: string, question: string) {
  return [
    { role: 'system' as const, content: SYSTEM[bench] },
    { role: 'user' as const, content: `[Context]\n${context}\n\n[Question]\n${question}` },
  ];
}

export async function runReference(o: ReferenceOptions): Promise<ChatRunSummary & { resumed: number }> {
  const questions = readJsonlObjects(o.questions, { keepFloats: true });
  const contexts = new Map(readJsonlObjects(o.context, { keepFloats: true }).map((c) => [c.record.image, c]));
  const file = JsonlAppender.open(o.output);
  try {
    checkResumable(
      file,
      questions.map((q) => q.record.question_id),
      'answers',
    );
    const tasks = questions.slice(file.existing.length).map(({ line, record: q }) => {
      const where = `${o.questions}:${line}`;
      if (typeof q.text !== 'string') throw new Error(`${where}: the question has no string "text"`);
      const context = contexts.get(q.image);
      if (!context) throw new Error(`${where}: no context line in ${o.context} for image ${JSON.stringify(q.image)}`);
      const text = contextText(o.bench, context.record, `${o.context}:${context.line}`);
      return {
        label: `question ${line}`,
        messages: referenceMessages(o.bench, text, q.text),
        line: (c: { content: string; usage: Usage | null }) =>
          pythonJsonDumps({
            question_id: q.question_id as PyValue,
            text: c.content,
            category: (q.category ?? null) as PyValue,
            model_id: o.client.model,
          }),
      };
    });
    return { ...(await runChatTasks(tasks, file, o)), resumed: file.existing.length };
  } finally {
    file.close();
  }
}
