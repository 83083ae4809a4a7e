// One call from an image and a question to the model's reply (transformers' image-text-to-text pipeline), and its
// streaming form. Sampling follows the reference's serving rule: greedy unless temperature > 0 (spec §7.2).
import type { LlavaForConditionalGeneration } from '../models/llava.js';
import type { ChatMessage } from '../text/chat-template.js';
import type { ImageInput } from './image-input.js';
import type { LlavaProcessor } from './processor.js';
import { TextStream } from './text-stream.js';

export interface AnswerOptions {
  question: string;
  image?: ImageInput;
  /** Earlier turns; an image part in them is the `image` given here, so the new question carries none. */
  history?: ChatMessage[];
  maxNewTokens?: number;
  /** 0 or absent: greedy. */
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  /** Strings that end the reply (cut before them), besides EOS and the template's own stop string. */
  stop?: string[];
}

type Model = { model: LlavaForConditionalGeneration };

export async function answer(processor: LlavaProcessor, options: AnswerOptions & Model): Promise<string> {
  let text = '';
  for await (const piece of answerStream(processor, options)) text += piece;
  return text;
}

export async function* answerStream(processor: LlavaProcessor, options: AnswerOptions & Model): AsyncGenerator<string> {
  const history = options.history ?? [];
  const imageInHistory = history.some(
    (m) => typeof m.content !== 'string' && m.content.some((p) => p.type === 'image'),
  );
  const content: ChatMessage['content'] =
    options.image !== undefined && !imageInHistory
      ? [{ type: 'image' }, { type: 'text', text: options.question }]
      : options.question;
  const inputs = await processor.process({
    messages: [...history, { role: 'user', content }],
    images: options.image !== undefined ? [options.image] : [],
  });
  const stops = [...processor.stopStrings, ...(options.stop ?? [])];
  const stream = new TextStream(processor.tokenizer, stops);
  // generate() calls onStep synchronously between steps; pieces wait here until the consumer pulls them.
  const pieces: string[] = [];
  let wake: (() => void) | undefined;
  let cancelled = false;
  let ended = false;
  const temperature = options.temperature ?? 0;
  const done = options.model
    .generate({
      ...inputs,
      maxNewTokens: options.maxNewTokens ?? 256,
      doSample: temperature > 0,
      temperature: temperature > 0 ? temperature : undefined,
      topP: options.topP,
      topK: options.topK,
      seed: options.seed,
      stopStrings: stops,
      decode: (ids) => processor.tokenizer.decode(ids, { skipSpecialTokens: true }),
      onStep: ({ tokens, finished }) => {
        if (cancelled) throw new GenerationCancelled();
        if (!finished[0]) pieces.push(stream.push(tokens[0]!));
        wake?.();
      },
    })
    .finally(() => {
      ended = true;
      for (const t of Object.values(inputs)) t?.dispose();
      wake?.();
    });
  done.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
  try {
    while (true) {
      while (pieces.length) {
        const piece = pieces.shift()!;
        if (piece) yield piece;
      }
      if (ended) break;
      await new Promise<void>((r) => (wake = r));
    }
    (await done).dispose();
    const rest = stream.finish();
    if (rest) yield rest;
  } finally {
    // The consumer stopped early (break, return): end the generation at its next step.
    cancelled = true;
    await done.catch((err: unknown) => {
      if (!(err instanceof GenerationCancelled)) throw err;
    });
  }
}

class GenerationCancelled extends Error {
  constructor() {
    super('generation cancelled by its consumer');
  }
}
