// `llava demo`: the whole method on a CPU in minutes (src/demo/run.ts): a procedural world, the data engine with an
// offline teacher, stage-0 encoders, stage 1 and stage 2 with the real trainer, the held-out evaluation and a report.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runDemo } from '../demo/run.js';
import { run as doctor } from './doctor.js';
import { withInterrupt } from './eval/endpoint.js';

const HELP = `usage: llava demo [--out DIR] [--quick] [--base-url URL --model NAME [--api-key KEY]]

Runs LLaVA's whole method on a procedural world of coloured shapes, in about 10 minutes on 2 cores:
  world     seeded images with captions and boxes, train and held-out splits
  stage 0   a small CLIP and a small LLaMA trained here (nothing pretrained can be downloaded);
            cached in DIR/stage0, so a second run starts at stage 1
  datagen   the data engine over the captions and boxes, answered by an offline teacher behind the
            OpenAI interface (--base-url swaps in a real endpoint)
  stage 1   projector only, captions (plain template)
  stage 2   projector + LLM on the data engine's records and short answers (v1 template)
  eval      held-out exact match (colour, count, position, existence) and LLaVA-Bench with the
            teacher as reference and judge: the LLM without the image, after stage 1, after stage 2
Leaves DIR/final (llava-hf checkpoint), DIR/report.html, DIR/summary.md and every stage's files.

  --out DIR        run folder (default runs/demo)
  --quick          tiny counts (the test suite's run): the same pipeline in well under a minute
  --base-url URL   an OpenAI-compatible endpoint for the data engine, the reference answers and the judge
  --model NAME     its model name (required with --base-url)
  --api-key KEY    its key (env OPENAI_API_KEY)
  --no-doctor      skip the engine report at the start`;

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      out: { type: 'string', default: 'runs/demo' },
      quick: { type: 'boolean' },
      'base-url': { type: 'string' },
      model: { type: 'string' },
      'api-key': { type: 'string' },
      'no-doctor': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (v['base-url'] !== undefined && !/^https?:\/\/[^/]/.test(v['base-url']))
    throw new Error(`--base-url must be an http:// or https:// URL, got '${v['base-url']}'`);
  if (v['base-url'] && !v.model) throw new Error("--base-url needs --model NAME (the endpoint's model)");
  if (!v['no-doctor']) await doctor([]);
  const result = await withInterrupt('llava demo', (signal) =>
    runDemo({
      out: resolve(v.out),
      quick: v.quick ?? false,
      endpoint: v['base-url']
        ? { baseUrl: v['base-url'], model: v.model!, apiKey: v['api-key'] ?? process.env.OPENAI_API_KEY ?? 'none' }
        : undefined,
      log: (line) => console.log(line),
      signal,
    }),
  );
  return result === 'interrupted' ? 130 : 0;
}
