// `llava eval pope`: eval_pope.py's flags and stdout; --by-id pairs labels and answers by question_id.

import { evalPope, formatPope } from '../../eval/index.js';
import { parseOptions, UsageError, withUsage } from './args.js';

const HELP = `usage: llava eval pope --annotation-dir DIR --question-file Q --result-file ANSWERS [--by-id]

POPE as LLaVA's eval_pope.py: for each DIR/coco_pope_<category>.json (sorted), the answers of
that category's questions: TP/FP/TN/FN, accuracy, precision, recall, F1 and yes-ratio, then
"f1, acc, precision, recall, yes_ratio" to 3 decimals.
  --by-id    pair labels with answers by question_id (the reference pairs them by position)`;

export function run(argv: string[]): Promise<number> {
  const command = 'llava eval pope';
  return withUsage(command, HELP, argv, async () => {
    const o = parseOptions(
      argv,
      {
        'annotation-dir': { kind: 'string' },
        'question-file': { kind: 'string' },
        'result-file': { kind: 'string' },
        'by-id': { kind: 'boolean' },
      },
      command,
    );
    const [annotationDir, questionFile, resultFile] = ['annotation-dir', 'question-file', 'result-file'].map(
      (k) => o[k] as string | undefined,
    );
    if (!annotationDir || !questionFile || !resultFile)
      throw new UsageError('--annotation-dir, --question-file and --result-file are required');
    const metrics = evalPope({ annotationDir, questionFile, resultFile, byId: o['by-id'] === true });
    process.stdout.write(metrics.map(formatPope).join(''));
    return 0;
  });
}
