// A model's answers to a question file, as the reference's model_vqa.py / model_vqa_loader.py
// write them (spec §8.1): the question behind `<image>\n` in the conversation template's user
// turn (vicuna_v1 for LLaVA-1.5), the `<image>` rule of tokenizer_image_token, the image through
// the CLIP processor (pad-to-square for LLaVA-1.5), greedy decoding unless a temperature is given;
// one line per question: {question_id, prompt (the question as given), text (decoded without
// special tokens, stripped), answer_id, model_id, metadata}; question files: questions.ts.
// Questions go through the model
// `batchSize` at a time, left-padded; each finished answer is appended at once, so a rerun skips
// the question ids already in the file. Loads tensors: imported only by `llava eval answers`.

import { join } from 'node:path';
import type { LlavaForConditionalGeneration } from '../models/index.js';
import { conversationTemplate, generationPrompt } from '../text/conversation.js';
import { tokenizerImageToken } from '../text/image-token.js';
import type { TextTokenizer } from '../text/tokenizer.js';
import { cat, scope, tensor, type Tensor } from '../torch/index.js';
import type { AspectRatio, ClipImageProcessor } from '../vision/clip-processor.js';
import { decodeImageFile } from '../vision/decode.js';
import { Progress } from '../datagen/progress.js';
import { answerId } from './answer-id.js';
import { JsonlAppender } from './jsonl-append.js';
import { PyFloat, pythonJsonDumps } from './python-json.js';
import { pythonStrip } from './python-str.js';
import type { Question } from './questions.js';

export interface AnswersOptions {
  model: LlavaForConditionalGeneration;
  tokenizer: TextTokenizer;
  processor: ClipImageProcessor;
  aspectRatio: AspectRatio;
  /** Conversation template name (spec §3): vicuna_v1 for LLaVA-1.5, llava_v1 for v1. */
  convMode: string;
  questions: Question[];
  imageFolder: string;
  output: string;
  modelId: string;
  batchSize: number;
  maxNewTokens: number;
  /** 0: greedy (the v1.5 scripts); above 0: sampling with this temperature, seeded. */
  temperature: number;
  topP?: number;
  seed: number;
  progress: NodeJS.WriteStream | null;
}

export interface AnswersSummary {
  questions: number;
  resumed: number;
  written: number;
}

/** The prompt the model continues (spec §8.1): template, user turn `<image>\n` + question, open assistant slot. */
export function answerPrompt(convMode: string, question: string, withImage: boolean): string {
  const t = conversationTemplate(convMode);
  return generationPrompt(t, [{ role: t.roles[0], content: withImage ? `<image>\n${question}` : question }]);
}

const idKey = (id: unknown) => JSON.stringify(id instanceof PyFloat ? id.value : id);

export async function runAnswers(o: AnswersOptions): Promise<AnswersSummary> {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
    throw new Error(`batch size must be a positive integer, got ${o.batchSize}`);
  const file = JsonlAppender.open(o.output);
  try {
    const done = new Set(file.existing.map((l) => idKey((l.value as { question_id?: unknown }).question_id)));
    const todo = o.questions.filter((q) => !done.has(idKey(q.questionId)));
    const progress = new Progress(o.progress);
    let written = 0;
    const state = () => ({ finished: written, total: todo.length, failed: 0 });
    for (let start = 0; start < todo.length; start += o.batchSize) {
      const batch = todo.slice(start, start + o.batchSize);
      const texts = await answerBatch(o, batch);
      batch.forEach((q, i) => {
        file.append(
          pythonJsonDumps({
            question_id: q.questionId,
            prompt: q.recordedPrompt,
            text: texts[i]!,
            answer_id: answerId(o.seed, o.modelId, q.questionId),
            model_id: o.modelId,
            metadata: {},
          }),
        );
        written++;
      });
      progress.update(state());
    }
    progress.done(state());
    return { questions: o.questions.length, resumed: o.questions.length - todo.length, written };
  } finally {
    file.close();
  }
}

/** Greedy (or sampled) answers for one batch: left-padded prompts [B, L], images [N, 3, S, S] in order. */
async function answerBatch(o: AnswersOptions, batch: Question[]): Promise<string[]> {
  const imageTokenId = o.model.config.image_token_index;
  const prompts = batch.map((q) =>
    tokenizerImageToken(o.tokenizer, answerPrompt(o.convMode, q.text, q.image !== undefined), { imageTokenId }),
  );
  const pixels: Tensor[] = [];
  for (const q of batch) {
    if (q.image === undefined) continue;
    const path = join(o.imageFolder, q.image);
    const image = await decodeImageFile(path).catch((err: Error) => {
      throw new Error(`${q.where} (question_id ${JSON.stringify(q.questionId)}): ${err.message}`);
    });
    const { data, shape } = o.processor.preprocess(image, o.aspectRatio);
    pixels.push(tensor(data, [1, ...shape]));
  }
  const pad = o.tokenizer.padId ?? o.model.config.pad_token_id ?? 0;
  const width = Math.max(...prompts.map((p) => p.length));
  const ids = new BigInt64Array(batch.length * width);
  const mask = new BigInt64Array(batch.length * width);
  prompts.forEach((p, b) => {
    const offset = b * width + width - p.length; // left padding: the answers start at one column
    ids.fill(BigInt(pad), b * width, offset);
    p.forEach((id, k) => {
      ids[offset + k] = BigInt(id);
      mask[offset + k] = 1n;
    });
  });
  const eos = o.tokenizer.eosId;
  // The inputs go where the model's weights are ('cpu' or a GPU).
  const device = o.model.language_model.model.embed_tokens.weight.device;
  const pixelDtype = o.model.vision_tower.parameters()[0]!.dtype;
  const sequences: Tensor = await o.model.generate({
    inputIds: tensor(ids, [batch.length, width]).to(device),
    attentionMask: tensor(mask, [batch.length, width]).to(device),
    pixelValues: pixels.length > 0 ? scope(() => cat(pixels, 0).to(pixelDtype).to(device)) : undefined,
    maxNewTokens: o.maxNewTokens,
    doSample: o.temperature > 0,
    ...(o.temperature > 0 && { temperature: o.temperature, topP: o.topP, seed: o.seed }),
    ...(eos !== undefined && { eosTokenId: eos }),
    padTokenId: pad,
  });
  const all = Array.from(sequences.to('cpu').toTypedArray() as BigInt64Array, Number);
  const length = sequences.size(1);
  return batch.map((_, b) => {
    let tokens = all.slice(b * length + width, (b + 1) * length);
    const end = eos === undefined ? -1 : tokens.indexOf(eos);
    if (end >= 0) tokens = tokens.slice(0, end);
    return pythonStrip(o.tokenizer.decode(tokens, { skipSpecialTokens: true }));
  });
}
