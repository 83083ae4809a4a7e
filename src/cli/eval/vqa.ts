// `llava eval vqa`: eval_textvqa.py's flags and stdout (VQA soft accuracy, EvalAI normalisation).

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { evalTextVqa, formatTextVqa } from '../../eval/index.js';
import { parseOptions, UsageError, withUsage } from './args.js';

const HELP = `usage: llava eval vqa --annotation-file TEXTVQA.json (--result-file ANSWERS | --result-dir DIR)

VQA soft accuracy as LLaVA's eval_textvqa.py: each answer's question is read back from its
prompt and joined with the annotations ({"data": [{image_id, question, answers[10]}]}) on
(image_id = question_id, lower-cased question). Prints, per result file (DIR: every .jsonl, sorted),
  <name>\\nSamples: N\\nAccuracy: x%`;

export function run(argv: string[]): Promise<number> {
  const command = 'llava eval vqa';
  return withUsage(command, HELP, argv, async () => {
    const o = parseOptions(
      argv,
      { 'annotation-file': { kind: 'string' }, 'result-file': { kind: 'string' }, 'result-dir': { kind: 'string' } },
      command,
    ) as Record<string, string | undefined>;
    const annotations = o['annotation-file'];
    if (!annotations || !(o['result-file'] || o['result-dir']))
      throw new UsageError('--annotation-file and --result-file or --result-dir are required');
    if (o['result-file']) process.stdout.write(formatTextVqa(evalTextVqa(annotations, o['result-file'])));
    if (o['result-dir']) {
      for (const name of readdirSync(o['result-dir']).sort()) {
        if (!name.endsWith('.jsonl')) process.stdout.write(`Skipping ${name}\n`);
        else process.stdout.write(formatTextVqa(evalTextVqa(annotations, join(o['result-dir'], name))));
      }
    }
    return 0;
  });
}
