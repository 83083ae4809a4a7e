// `llava eval reference`: LLaVA-Bench's text-only reference answers rebuilt with any model.

import { detectBench, readJsonlObjects, runReference, type Bench } from '../../eval/index.js';
import { parseOptions, UsageError, withUsage } from './args.js';
import { ENDPOINT_HELP, ENDPOINT_OPTIONS, endpointFrom, withInterrupt } from './endpoint.js';

const HELP = `usage: llava eval reference -q QUESTIONS -c CONTEXT -o ANSWERS --model NAME [options]

Writes text-only reference answers (question_id, text, category, model_id), one per question, in
the form of qa90_gpt4_answer.jsonl: the model sees the question with the image's captions and
boxes (COCO) or caption (In-the-Wild), never the image. Pass ANSWERS to 'llava eval judge -a' as
the reference (Assistant 1); the reviews then record which model wrote it. Resumable.

  -q, --question FILE      questions JSONL (question_id, image, text, category)
  -c, --context FILE       caps/boxes JSONL (COCO) or context JSONL (In-the-Wild)
  -o, --output FILE        the reference answers
  --bench coco|wild        default: told by the context file
${ENDPOINT_HELP}`;

export function run(argv: string[]): Promise<number> {
  const command = 'llava eval reference';
  return withUsage(command, HELP, argv, async () => {
    const o = parseOptions(
      argv,
      {
        question: { kind: 'string', short: 'q' },
        context: { kind: 'string', short: 'c' },
        output: { kind: 'string', short: 'o' },
        bench: { kind: 'string' },
        ...ENDPOINT_OPTIONS,
      },
      command,
    );
    const s = (name: string) => o[name] as string | undefined;
    for (const name of ['question', 'context', 'output']) if (!s(name)) throw new UsageError(`--${name} is required`);
    const given = s('bench');
    if (given !== undefined && given !== 'coco' && given !== 'wild')
      throw new UsageError(`--bench must be coco or wild, got '${given}'`);
    const endpoint = await endpointFrom(o, s('output')!);
    const bench =
      (given as Bench | undefined) ?? detectBench(readJsonlObjects(s('context')!)[0]?.record, s('context')!);
    const summary = await withInterrupt(command, (signal) =>
      runReference({
        questions: s('question')!,
        context: s('context')!,
        bench,
        output: s('output')!,
        ...endpoint,
        signal,
      }),
    );
    const usd = summary.cost === null ? 'cost unknown (no price for this model)' : `$${summary.cost.toFixed(4)}`;
    console.log(
      `reference ${endpoint.client.model} ${summary.stopped ?? 'finished'}: ${summary.written} answers written, ${summary.resumed} resumed; ` +
        `${summary.requests.sent} sent, ${summary.requests.cached} from cache; ${summary.usage.promptTokens} prompt + ${summary.usage.completionTokens} completion tokens, ${usd}`,
    );
    if (summary.stopped === 'interrupted') return 130;
    return summary.stopped === null ? 0 : 1;
  });
}
