// `llava demo`: the whole method on a CPU in minutes (src/demo/run.ts): a procedural world, the data engine with an
// offline teacher, stage-0 encoders, stage 1 and stage 2 with the real trainer, the held-out evaluation and a report.
import { resolve } from 'node:path';
import { runDemo } from '../demo/run.js';
import { run as doctor } from './doctor.js';

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
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const value = (flag: string) => {
    const at = argv.indexOf(flag);
    if (at < 0) return undefined;
    const v = argv[at + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value\n\n${HELP}`);
    return v;
  };
  const known = new Set(['--out', '--quick', '--base-url', '--model', '--api-key', '--no-doctor']);
  const unknown = argv.find(
    (a, i) =>
      a.startsWith('--') &&
      !known.has(a) &&
      !['--out', '--base-url', '--model', '--api-key'].includes(argv[i - 1] ?? ''),
  );
  if (unknown) throw new Error(`unknown option ${unknown}\n\n${HELP}`);
  const baseUrl = value('--base-url');
  const model = value('--model');
  if (baseUrl && !model) throw new Error("--base-url needs --model NAME (the endpoint's model)");
  if (!argv.includes('--no-doctor')) await doctor([]);
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  try {
    const result = await runDemo({
      out: resolve(value('--out') ?? 'runs/demo'),
      quick: argv.includes('--quick'),
      endpoint: baseUrl
        ? { baseUrl, model: model!, apiKey: value('--api-key') ?? process.env.OPENAI_API_KEY ?? 'none' }
        : undefined,
      log: (line) => console.log(line),
      signal: controller.signal,
    });
    return result === 'interrupted' ? 130 : 0;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
