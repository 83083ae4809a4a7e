// `llava eval mme`: MME scores from the benchmark's results folder, or from a model_vqa answer
// file with the benchmark folder's ground truth (LLaVA's convert_answer_to_mme.py, then scored).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evalMme, formatMme, mmeResultsFromAnswers, mmeScores } from '../../eval/index.js';
import { parseOptions, UsageError, withUsage } from './args.js';

const HELP = `usage: llava eval mme (--results-dir DIR | --answers FILE --benchmark-dir MME [--write-results DIR]) [--json]

MME as its eval_tool/calculation.py: per task accuracy, accuracy+ (both questions of an image
right) and score = 100 (acc + acc+); per group (Perception, Cognition) the summed score.
  --results-dir DIR      MME's results folder: DIR/<task>.txt, lines
                         "image<TAB>question<TAB>yes|no<TAB>prediction", two per image
  --answers FILE         a model_vqa answer file for llava_mme.jsonl (question_id "<task>/<image>")
  --benchmark-dir MME    MME_Benchmark_release_version (the ground truth), as convert_answer_to_mme.py
  --write-results DIR    also write the results folder made from --answers
  --json                 the numbers as JSON`;

export function run(argv: string[]): Promise<number> {
  const command = 'llava eval mme';
  return withUsage(command, HELP, argv, async () => {
    const o = parseOptions(
      argv,
      {
        'results-dir': { kind: 'string' },
        answers: { kind: 'string' },
        'benchmark-dir': { kind: 'string' },
        'write-results': { kind: 'string' },
        json: { kind: 'boolean' },
      },
      command,
    );
    const s = (k: string) => o[k] as string | undefined;
    let groups;
    if (s('results-dir')) {
      if (s('answers')) throw new UsageError('give --results-dir or --answers, not both');
      groups = evalMme(s('results-dir')!);
    } else if (s('answers') && s('benchmark-dir')) {
      const results = mmeResultsFromAnswers(s('answers')!, s('benchmark-dir')!);
      const out = s('write-results');
      if (out) {
        mkdirSync(out, { recursive: true });
        for (const [task, text] of results) writeFileSync(join(out, `${task}.txt`), text);
      }
      groups = mmeScores(
        new Map([...results].map(([task, text]) => [task, { text, source: `${s('answers')} (${task})` }])),
      );
    } else throw new UsageError('give --results-dir DIR, or --answers FILE with --benchmark-dir MME');
    process.stdout.write(o.json ? `${JSON.stringify(groups, null, 2)}\n` : formatMme(groups));
    return 0;
  });
}
