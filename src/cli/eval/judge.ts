// `llava eval judge`: the reference's judge scripts (eval_gpt_review_visual.py for COCO,
// eval_gpt_review_bench.py for In-the-Wild) with their flags, against any OpenAI-compatible
// endpoint; resumable; prints the run's account (tokens, cost) at the end.

import { formatJudgeSummary, readJudgeInputs, runJudge, type Bench } from '../../eval/index.js';
import { parseOptions, UsageError, withUsage } from './args.js';
import { ENDPOINT_HELP, ENDPOINT_OPTIONS, endpointFrom, withInterrupt } from './endpoint.js';

const HELP = `usage: llava eval judge -q QUESTIONS -c CONTEXT -a REFERENCE ANSWERS -r RULE -o REVIEWS --model NAME [options]

Writes one review per question to REVIEWS (JSONL, the reference's format plus a "judge" record:
model, reference, prompt hash, tokens). Run the same command again after an interruption: it
continues after the reviews already written; replies already paid come from the response cache.

  -q, --question FILE      questions JSONL (question_id, image, text, category)
  -c, --context FILE       COCO: caps/boxes JSONL (image, captions, instances); In-the-Wild:
                           context JSONL (image, caption)
  -a, --answer-list A B    A: the reference answers (Assistant 1), B: the model's (Assistant 2)
  -r, --rule FILE          rule.json
  -o, --output FILE        the review file
  --bench coco|wild        default: told by the context file
${ENDPOINT_HELP}`;

export function run(argv: string[]): Promise<number> {
  const command = 'llava eval judge';
  return withUsage(command, HELP, argv, async () => {
    const o = parseOptions(
      argv,
      {
        question: { kind: 'string', short: 'q' },
        context: { kind: 'string', short: 'c' },
        'answer-list': { kind: 'list', short: 'a' },
        rule: { kind: 'string', short: 'r' },
        output: { kind: 'string', short: 'o' },
        bench: { kind: 'string' },
        ...ENDPOINT_OPTIONS,
      },
      command,
    );
    const s = (name: string) => o[name] as string | undefined;
    for (const name of ['question', 'context', 'rule', 'output'])
      if (!s(name)) throw new UsageError(`--${name} is required`);
    const answers = o['answer-list'] as string[] | undefined;
    if (answers?.length !== 2)
      throw new UsageError('-a needs two files: the reference answers, then the model answers');
    const bench = s('bench');
    if (bench !== undefined && bench !== 'coco' && bench !== 'wild')
      throw new UsageError(`--bench must be coco or wild, got '${bench}'`);
    const endpoint = await endpointFrom(o, s('output')!);
    const inputs = readJudgeInputs({
      questions: s('question')!,
      context: s('context')!,
      referenceAnswers: answers[0]!,
      answers: answers[1]!,
      rules: s('rule')!,
      bench: bench as Bench | undefined,
    });
    if (inputs.unevenLengths) process.stderr.write(`${command}: ${inputs.unevenLengths}\n`);
    const summary = await withInterrupt(command, (signal) =>
      runJudge({ items: inputs.items, output: s('output')!, ...endpoint, signal }),
    );
    console.log(formatJudgeSummary(summary));
    if (summary.stopped === 'interrupted') return 130;
    return summary.stopped === null ? 0 : 1;
  });
}
