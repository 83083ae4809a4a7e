// `llava eval mme`: MME scores from the benchmark's results folder (one <task>.txt per subtask).

import { evalMme, formatMme } from '../../eval/index.js';
import { parseOptions, UsageError, withUsage } from './args.js';

const HELP = `usage: llava eval mme --results-dir DIR [--json]

MME as its eval_tool/calculation.py: DIR/<task>.txt with lines
"image<TAB>question<TAB>yes|no<TAB>prediction", two per image. Per task accuracy, accuracy+
(both questions of an image right) and score = 100 (acc + acc+); per group the summed score.`;

export function run(argv: string[]): Promise<number> {
  const command = 'llava eval mme';
  return withUsage(command, HELP, argv, async () => {
    const o = parseOptions(argv, { 'results-dir': { kind: 'string' }, json: { kind: 'boolean' } }, command);
    if (!o['results-dir']) throw new UsageError('--results-dir is required');
    const groups = evalMme(o['results-dir'] as string);
    process.stdout.write(o.json ? `${JSON.stringify(groups, null, 2)}\n` : formatMme(groups));
    return 0;
  });
}
