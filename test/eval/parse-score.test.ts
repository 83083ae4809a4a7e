// Judge-reply parsing against the 33 replies the reference's parse_score saw (expected.json →
// parse_score): the pair, its JSON form in a review file, and what the script printed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseScore, PyFloat, pythonJsonDumps } from '../../src/eval/index.js';
import { expected } from './paths.js';

const fromJson = (v: number | string) =>
  v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v;

test('parse_score: every fixture reply gives the reference pair, its JSON text and its printout', () => {
  assert.equal(expected.parse_score.length, 33);
  for (const c of expected.parse_score) {
    const { pair, printed } = parseScore(c.reply);
    const label = JSON.stringify(c.reply);
    assert.equal(!pair.ok, c.failed, label);
    assert.deepEqual(pair.scores, (c.tuple as (number | string)[]).map(fromJson), label);
    const json = pythonJsonDumps(pair.ok ? pair.scores.map((s) => new PyFloat(s)) : pair.scores);
    assert.equal(json, c.tuple_json, label);
    assert.equal(printed, c.printed, label);
  }
});
