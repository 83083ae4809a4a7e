// `llava run`: one question about one image, for scripts (the reference's run_llava.py).
import { parseArgs } from 'node:util';
import { BatchEngine } from '../serve/engine.js';
import { loadModelDir } from '../serve/load-model.js';
import { replyTo } from '../serve/one-shot.js';
import { generationFlags, readGenerationFlags } from './generation-flags.js';

const HELP = `usage: llava run --model DIR --image PATH --prompt TEXT [--json] [options]

Prints the model's answer as it is generated; with --json, one JSON object at the end:
{"model", "prompt", "image", "text", "prompt_tokens", "completion_tokens", "finish_reason"}.

options:
${generationFlags.help}`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      image: { type: 'string' },
      prompt: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...generationFlags.options,
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (!v.model || !v.prompt) {
    console.error(`llava run: --model and --prompt are required\n\n${HELP}`);
    return 2;
  }
  const generation = readGenerationFlags(v);
  const { model, processor, name } = loadModelDir(v.model, { dtype: generation.dtype });
  const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 1 });
  const content = v.image ? [{ type: 'image' as const }, { type: 'text' as const, text: v.prompt }] : v.prompt;
  try {
    const result = await replyTo(engine, processor, [{ role: 'user', content }], v.image ? [v.image] : [], {
      ...generation,
      onText: v.json ? undefined : (piece) => process.stdout.write(piece),
    });
    if (v.json)
      console.log(
        JSON.stringify({
          model: name,
          prompt: v.prompt,
          image: v.image ?? null,
          text: result.text,
          prompt_tokens: result.promptTokens,
          completion_tokens: result.completionTokens,
          finish_reason: result.finishReason,
        }),
      );
    else process.stdout.write('\n');
  } finally {
    engine.close();
  }
  return 0;
}
