// `llava eval sqa`: eval_science_qa.py's flags, printed line and output files.

import { writeFileSync } from 'node:fs';
import { evalScienceQA, formatScienceQA, pythonJsonDumps, scienceQAOutputs } from '../../eval/index.js';
import { parseOptions, UsageError, withUsage } from './args.js';

const HELP = `usage: llava eval sqa --base-dir DIR --result-file ANSWERS [--split test] [--output-file F] [--output-result F]

ScienceQA accuracy as LLaVA's eval_science_qa.py: DIR holds problems.json and pid_splits.json;
ANSWERS is the model_vqa_science answer file. Prints
  Total: N, Correct: C, Accuracy: x%, IMG-Accuracy: y%
--output-file writes {correct, incorrect} per problem, --output-result the accuracy and the
parsed index and text per problem (both as the reference writes them).`;

export function run(argv: string[]): Promise<number> {
  const command = 'llava eval sqa';
  return withUsage(command, HELP, argv, async () => {
    const o = parseOptions(
      argv,
      {
        'base-dir': { kind: 'string' },
        'result-file': { kind: 'string' },
        split: { kind: 'string' },
        'output-file': { kind: 'string' },
        'output-result': { kind: 'string' },
      },
      command,
    ) as Record<string, string | undefined>;
    if (!o['base-dir'] || !o['result-file']) throw new UsageError('--base-dir and --result-file are required');
    const result = evalScienceQA(o['base-dir'], o['result-file'], o.split ?? 'test');
    process.stdout.write(formatScienceQA(result));
    const { output, result: summary } = scienceQAOutputs(result);
    if (o['output-file']) writeFileSync(o['output-file'], pythonJsonDumps(output, 2));
    if (o['output-result']) writeFileSync(o['output-result'], pythonJsonDumps(summary, 2));
    return 0;
  });
}
