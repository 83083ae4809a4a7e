// The judge reply's score pair, read as the reference's `parse_score` reads it (identical in
// eval_gpt_review.py, _visual.py and _bench.py): the first line (split on '\n' only), every ','
// turned into a space, split on single ASCII spaces; exactly two pieces, each through Python's
// float(), give [s1, s2]. Anything else gives the int pair [-1, -1], which the summary then
// averages in like a real score. No range check: "-1 11" is [-1.0, 11.0].

import { pythonParseFloat } from './python-float.js';
import { pythonStrRepr } from './python-json.js';

export type ScorePair = { ok: true; scores: [number, number] } | { ok: false; scores: [-1, -1] };

export interface ParsedScore {
  pair: ScorePair;
  /** What the reference prints for this reply ('' on success), ending in '\n'. */
  printed: string;
}

export function parseScore(reply: string): ParsedScore {
  const pieces = reply.split('\n')[0]!.replaceAll(',', ' ').split(' ');
  const failed = (before = ''): ParsedScore => ({
    pair: { ok: false, scores: [-1, -1] },
    printed: `${before}error ${reply}\n`,
  });
  if (pieces.length !== 2) return failed();
  const scores: number[] = [];
  for (const piece of pieces) {
    const value = pythonParseFloat(piece);
    // Python raises at the first piece that is not a float, and prints the exception first.
    if (value === undefined) return failed(`could not convert string to float: ${pythonStrRepr(piece)}\n`);
    scores.push(value);
  }
  return { pair: { ok: true, scores: scores as [number, number] }, printed: '' };
}
