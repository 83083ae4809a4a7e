// `llava eval summarize`: the options of summarize_gpt_review.py (-f, -d, -s, -v, -i) and its
// stdout byte for byte; --strict leaves out and lists the reviews whose reply did not parse;
// --json writes the numbers instead.

import { formatSummary, summarize } from '../../eval/index.js';
import { parseOptions, UsageError, withUsage } from './args.js';

const HELP = `usage: llava eval summarize (-f FILE... | -d DIR) [-s TEXT...] [-v 0613|0314] [-i ID...] [--strict] [--json]

Prints, per review file, its config name and one row per category and 'all':
  <category> <relative score> <reference mean x 10> <model mean x 10>
exactly as LLaVA's summarize_gpt_review.py prints it (its rounding, its -1 handling).

  -f, --files FILE...      review files (JSONL, the judge's format)
  -d, --dir DIR            a folder: files ending in .jsonl that start with gpt4_text, reviews_ or
                           review_ (any .jsonl when DIR's own path contains "review")
  -s, --select TEXT...     keep the files whose name contains every TEXT
  -v, --version V          keep the files judged by version V (0613 if in the name, else 0314)
  -i, --ignore ID...       leave out these question ids
  --strict                 leave out reviews whose reply has no score pair (the reference averages
                           them in as [-1, -1]) and list them
  --json                   the summaries as JSON`;

export function run(argv: string[]): Promise<number> {
  return withUsage('llava eval summarize', HELP, argv, async () => {
    const o = parseOptions(
      argv,
      {
        files: { kind: 'list', short: 'f' },
        dir: { kind: 'string', short: 'd' },
        select: { kind: 'list', short: 's' },
        version: { kind: 'string', short: 'v' },
        ignore: { kind: 'list', short: 'i' },
        strict: { kind: 'boolean' },
        json: { kind: 'boolean' },
      },
      'llava eval summarize',
    );
    const files = o.files as string[] | undefined;
    const dir = o.dir as string | undefined;
    if ((files === undefined || files.length === 0) && dir === undefined)
      throw new UsageError('give -f FILE... or -d DIR');
    const ignore = (o.ignore as string[] | undefined)?.map((x) => {
      // Python's int(): optional sign, digits (underscores between them), surrounding spaces.
      if (!/^\s*[+-]?\d(_?\d)*\s*$/.test(x)) throw new UsageError(`-i: '${x}' is not an integer question id`);
      return Number(x.replaceAll('_', ''));
    });
    const summaries = summarize({
      files,
      dir,
      select: o.select as string[] | undefined,
      version: o.version as string | undefined,
      ignore,
      strict: o.strict === true,
    });
    process.stdout.write(o.json ? `${JSON.stringify(summaries, null, 2)}\n` : formatSummary(summaries));
    return 0;
  });
}
