// A single conversation turn through the engine, for the terminal commands (`llava run`, `llava chat`): the reply
// streamed as it is generated, with the counts that `--json` reports.
import type { ChatMessage } from '../text/chat-template.js';
import type { BatchEngine, EngineResult } from './engine.js';
import type { LlavaProcessor } from './processor.js';

export interface TurnOptions {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed?: number;
  onText?: (piece: string) => void;
}

export async function replyTo(
  engine: BatchEngine,
  processor: LlavaProcessor,
  messages: ChatMessage[],
  images: string[],
  o: TurnOptions,
): Promise<EngineResult> {
  const inputs = await processor.process({ messages, images });
  try {
    const room = engine.contextLength - engine.promptLength(inputs);
    if (room < 1)
      throw new Error(`the conversation fills the model's context of ${engine.contextLength}; start over (/reset)`);
    return await engine.submit({
      inputs,
      maxNewTokens: Math.min(o.maxNewTokens, room),
      sampling: { temperature: o.temperature, topP: o.topP, topK: 0 },
      seed: o.seed,
      stop: processor.stopStrings,
      onText: o.onText,
    });
  } finally {
    for (const t of Object.values(inputs)) t?.dispose();
  }
}
