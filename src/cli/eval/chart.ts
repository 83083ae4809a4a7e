// `llava eval chart`: several review files side by side, as a table and a self-contained HTML chart.

import { writeFileSync } from 'node:fs';
import { chartHtml, compare, formatComparison, summarize } from '../../eval/index.js';
import { parseOptions, UsageError, withUsage } from './args.js';

const HELP = `usage: llava eval chart (-f FILE... | -d DIR) [-s TEXT...] [-v V] [--strict] [-o CHART.html]

Compares review files (runs, judges, references) side by side: a Markdown table on stdout, one
column per file, each cell "relative (reference x10 / model x10)" as summarize computes them; with
-o, a self-contained HTML page with the same table and a bar chart (Chart.js inlined).
File selection (-f, -d, -s, -v) and --strict as in 'llava eval summarize'.`;

export function run(argv: string[]): Promise<number> {
  const command = 'llava eval chart';
  return withUsage(command, HELP, argv, async () => {
    const o = parseOptions(
      argv,
      {
        files: { kind: 'list', short: 'f' },
        dir: { kind: 'string', short: 'd' },
        select: { kind: 'list', short: 's' },
        version: { kind: 'string', short: 'v' },
        strict: { kind: 'boolean' },
        output: { kind: 'string', short: 'o' },
      },
      command,
    );
    const files = o.files as string[] | undefined;
    if ((files === undefined || files.length === 0) && o.dir === undefined)
      throw new UsageError('give -f FILE... or -d DIR');
    const summaries = summarize({
      files,
      dir: o.dir as string | undefined,
      select: o.select as string[] | undefined,
      version: o.version as string | undefined,
      strict: o.strict === true,
    });
    if (summaries.length === 0) throw new UsageError('no review file matched');
    const comparison = compare(summaries);
    process.stdout.write(formatComparison(comparison));
    if (o.output) writeFileSync(o.output as string, chartHtml(comparison));
    return 0;
  });
}
