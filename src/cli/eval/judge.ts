// `llava eval judge`: the reference's judge scripts (eval_gpt_review_visual.py for COCO,
// eval_gpt_review_bench.py for In-the-Wild) with their flags, against any OpenAI-compatible
// endpoint; resumable; prints the run's account (tokens, cost) at the end.

import { DEFAULT_PRICES, loadPrices } from '../../datagen/index.js';
import { formatJudgeSummary, readJudgeInputs, runJudge, type Bench } from '../../eval/index.js';
import { intOption, numberOption, parseOptions, UsageError, withUsage } from './args.js';

const HELP = `usage: llava eval judge -q QUESTIONS -c CONTEXT -a REFERENCE ANSWERS -r RULE -o REVIEWS --model NAME [options]

Writes one review per question to REVIEWS (JSONL, the reference's format plus a "judge" record:
model, prompt hash, tokens). Run the same command again after an interruption: it continues
after the reviews already written, and replies already paid come from the response cache.

  -q, --question FILE      questions JSONL (question_id, image, text, category)
  -c, --context FILE       COCO: caps/boxes JSONL (image, captions, instances); In-the-Wild:
                           context JSONL (image, caption)
  -a, --answer-list A B    A: the reference answers (Assistant 1), B: the model's (Assistant 2)
  -r, --rule FILE          rule.json
  -o, --output FILE        the review file
  --bench coco|wild        default: told by the context file
endpoint:
  --model NAME             judge model (the reference used gpt-4-0314)
  --base-url URL           OpenAI-compatible API base (env OPENAI_BASE_URL)
  --api-key KEY            (env OPENAI_API_KEY; not needed for a --base-url without auth)
  --temperature T          default 0.2, as the reference
  --max-tokens N           default 1024, as the reference
  --concurrency N          requests in flight (default 4)
  --timeout S              seconds per request (default 120)
  --max-retries N          retries of 429/5xx/timeouts/drops/malformed replies (default 8)
  --cache DIR              response cache (default: REVIEWS.cache); --no-cache to disable
  --prices FILE            JSON {model: {input, output}} in USD per 1M tokens
  --no-progress            no progress line on stderr`;

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
        model: { kind: 'string' },
        'base-url': { kind: 'string' },
        'api-key': { kind: 'string' },
        temperature: { kind: 'string' },
        'max-tokens': { kind: 'string' },
        concurrency: { kind: 'string' },
        timeout: { kind: 'string' },
        'max-retries': { kind: 'string' },
        cache: { kind: 'string' },
        'no-cache': { kind: 'boolean' },
        prices: { kind: 'string' },
        'no-progress': { kind: 'boolean' },
      },
      command,
    );
    const s = (name: string) => o[name] as string | undefined;
    for (const name of ['question', 'context', 'rule', 'output', 'model'])
      if (!s(name)) throw new UsageError(`--${name} is required`);
    const answers = o['answer-list'] as string[] | undefined;
    if (answers?.length !== 2)
      throw new UsageError('-a needs two files: the reference answers, then the model answers');
    const bench = s('bench');
    if (bench !== undefined && bench !== 'coco' && bench !== 'wild')
      throw new UsageError(`--bench must be coco or wild, got '${bench}'`);
    if (s('cache') && o['no-cache']) throw new UsageError('--cache and --no-cache contradict each other');
    const baseURL = s('base-url') ?? process.env.OPENAI_BASE_URL;
    if (baseURL !== undefined && !/^https?:\/\/[^/]/.test(baseURL))
      throw new UsageError(`--base-url must be an http:// or https:// URL, got '${baseURL}'`);
    const apiKey = s('api-key') ?? process.env.OPENAI_API_KEY ?? (baseURL ? 'none' : undefined);
    if (apiKey === undefined) throw new UsageError('no API key: pass --api-key or set OPENAI_API_KEY');
    const client = {
      baseURL,
      apiKey,
      model: s('model')!,
      temperature: numberOption('temperature', s('temperature'), 0) ?? 0.2,
      maxTokens: numberOption('max-tokens', s('max-tokens'), 1) ?? 1024,
      timeoutMs: (numberOption('timeout', s('timeout'), 0.001) ?? 120) * 1000,
      maxRetries: intOption('max-retries', s('max-retries'), 8, 0),
    };
    const concurrency = intOption('concurrency', s('concurrency'), 4);
    const prices = s('prices') ? await loadPrices(s('prices')!) : DEFAULT_PRICES;
    const inputs = readJudgeInputs({
      questions: s('question')!,
      context: s('context')!,
      referenceAnswers: answers[0]!,
      answers: answers[1]!,
      rules: s('rule')!,
      bench: bench as Bench | undefined,
    });
    const warn = (message: string) => process.stderr.write(`${command}: ${message}\n`);
    if (inputs.unevenLengths) warn(inputs.unevenLengths);

    const controller = new AbortController();
    const onSignal = () => {
      if (controller.signal.aborted) process.exit(130);
      warn('interrupted; finishing up (Ctrl-C again to quit at once)');
      controller.abort(new Error('interrupted'));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const summary = await runJudge({
        items: inputs.items,
        output: s('output')!,
        client,
        concurrency,
        cacheDir: o['no-cache'] ? null : (s('cache') ?? `${s('output')}.cache`),
        prices,
        progress: o['no-progress'] ? null : process.stderr,
        signal: controller.signal,
        warn,
      });
      console.log(formatJudgeSummary(summary));
      if (summary.stopped === 'interrupted') return 130;
      return summary.stopped === null ? 0 : 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}
