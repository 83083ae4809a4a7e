// `llava chat`: a conversation in the terminal (the reference's llava/serve/cli.py): the reply streams as it is
// generated, earlier turns stay in the prompt through the template, one image per conversation in its first turn.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { ChatMessage } from '../text/chat-template.js';
import { BatchEngine } from '../serve/engine.js';
import { loadModelDir } from '../serve/load-model.js';
import { replyTo } from '../serve/one-shot.js';
import { generationFlags, readGenerationFlags } from './generation-flags.js';

const HELP = `usage: llava chat --model DIR [--image PATH] [options]

Type a question and press Enter. Commands:
  /image PATH   talk about another image (starts a new conversation)
  /reset        start a new conversation (same image)
  /quit         leave (or end the input, Ctrl-D)

options:
${generationFlags.help}`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      image: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...generationFlags.options,
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (!v.model) {
    console.error(`llava chat: --model DIR is required\n\n${HELP}`);
    return 2;
  }
  const generation = readGenerationFlags(v);
  const { model, processor } = loadModelDir(v.model, { dtype: generation.dtype });
  const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 1 });
  let image = v.image;
  let history: ChatMessage[] = [];
  const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY });
  const prompt = () => process.stdout.write('USER: ');
  prompt();
  try {
    for await (const line of rl) {
      const text = line.trim();
      if (text === '/quit') break;
      if (text === '/reset') {
        history = [];
        console.log('(new conversation)');
      } else if (text.startsWith('/image')) {
        image = text.slice('/image'.length).trim() || undefined;
        history = [];
        console.log(image ? `(new conversation about ${image})` : '(new conversation without an image)');
      } else if (text !== '') {
        const content: ChatMessage['content'] =
          image && history.length === 0 ? [{ type: 'image' }, { type: 'text', text }] : text;
        const messages: ChatMessage[] = [...history, { role: 'user', content }];
        process.stdout.write('ASSISTANT: ');
        try {
          const result = await replyTo(engine, processor, messages, image ? [image] : [], {
            ...generation,
            onText: (piece) => process.stdout.write(piece),
          });
          history = [...messages, { role: 'assistant', content: result.text.trim() }];
          process.stdout.write('\n');
        } catch (err) {
          console.log(`\n(error: ${err instanceof Error ? err.message : String(err)})`);
        }
      }
      prompt();
    }
  } finally {
    rl.close();
    engine.close();
  }
  process.stdout.write('\n');
  return 0;
}
