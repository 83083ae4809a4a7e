// Python's round, '%.nf' and float() against values worked out by hand from the exact binary
// expansion of each double (and the README's named cases), where JS's own functions differ.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  pythonFixed,
  pythonFloatStr,
  pythonParseFloat,
  pythonRound,
  pythonSplit,
  pythonStrip,
} from '../../src/eval/index.js';

test('round(x, n) rounds the exact binary value, exact ties to even', () => {
  // Exact ties (binary fractions): to even, where toFixed goes away from zero.
  assert.equal(pythonRound(81.25, 1), 81.2);
  assert.equal((81.25).toFixed(1), '81.3');
  assert.equal(pythonRound(76.25, 1), 76.2);
  assert.equal(pythonRound(6.5625, 3), 6.562);
  assert.equal(pythonRound(0.125, 2), 0.12);
  assert.equal(pythonRound(0.375, 2), 0.38);
  assert.equal(pythonRound(2.5, 0), 2);
  assert.equal(pythonRound(-2.5, 0), -2);
  assert.equal(pythonRound(-0.125, 2), -0.12);
  // 55.55 is 55.5499999999999971578... in binary: down, while Math.round(x * 10) / 10 gives 55.6.
  assert.equal(pythonRound(55.55, 1), 55.5);
  assert.equal(Math.round(55.55 * 10) / 10, 55.6);
  // 1.005 is 1.00499999999999989...: down.
  assert.equal(pythonRound(1.005, 2), 1);
  // 0.285 is 0.284999999999999975575...: down; 0.145 is 0.14499999999999999...: down.
  assert.equal(pythonRound(0.285, 2), 0.28);
  assert.equal(pythonRound(0.145, 2), 0.14);
  // 2.675 is 2.67499999999999982236431605997495353221893310546875: down.
  assert.equal(pythonRound(2.675, 2), 2.67);
  // Not ties: the nearest.
  assert.equal(pythonRound(96.45161290322581, 1), 96.5);
  assert.equal(pythonRound(1 / 3, 3), 0.333);
  assert.equal(pythonRound(2 / 3, 3), 0.667);
  assert.ok(Object.is(pythonRound(-0.04, 1), -0));
  assert.ok(Number.isNaN(pythonRound(NaN, 3)));
  assert.equal(pythonRound(Infinity, 1), Infinity);
  assert.equal(pythonRound(1e300, 2), 1e300);
  assert.equal(pythonRound(5e-324, 3), 0);
});

test("'%.nf' rounds like round, keeps the sign and n digits", () => {
  assert.equal(pythonFixed(40.625, 2), '40.62'); // exact tie: even
  assert.equal((40.625).toFixed(2), '40.63');
  assert.equal(pythonFixed(0.8125, 3), '0.812');
  assert.equal(pythonFixed(0.8135, 3), '0.814'); // 0.81350000000000000088817841970012523...: up
  assert.equal(pythonFixed(100, 2), '100.00');
  assert.equal(pythonFixed(-0.001, 2), '-0.00');
  assert.equal(pythonFixed(0.5, 0), '0');
  assert.equal(pythonFixed(1.5, 0), '2');
  assert.equal(pythonFixed(NaN, 2), 'nan');
});

test("str(float) keeps '.0' and writes nan", () => {
  assert.equal(pythonFloatStr(89), '89.0');
  assert.equal(pythonFloatStr(-10), '-10.0');
  assert.equal(pythonFloatStr(0.1 + 0.2), '0.30000000000000004');
  assert.equal(pythonFloatStr(NaN), 'nan');
});

test('float(text) accepts what Python accepts and nothing else', () => {
  const accepted: [string, number][] = [
    ['8', 8],
    ['7.', 7],
    ['.5', 0.5],
    ['1e1', 10],
    ['1E-1', 0.1],
    ['8_0', 80],
    ['1_0.2_5', 10.25],
    [' 7\r', 7],
    ['7\u00a0', 7],
    ['\u20037\u3000', 7],
    ['\uff18', 8], // full-width 8
    ['\u0663', 3], // Arabic-Indic 3
    ['\u{1d7d7}', 9], // mathematical bold 9 (run starts at U+1D7CE)
    ['+7', 7],
    ['-1', -1],
    ['inf', Infinity],
    ['-Infinity', -Infinity],
  ];
  for (const [text, value] of accepted) assert.equal(pythonParseFloat(text), value, JSON.stringify(text));
  assert.ok(Number.isNaN(pythonParseFloat('NaN')));
  for (const text of [
    '',
    ' ',
    '0x8',
    '8/10',
    '**8',
    '8_',
    '_8',
    '8__0',
    '1e',
    'e1',
    '.',
    '8 7',
    'infinit',
    '1_e1',
    'Score:',
  ])
    assert.equal(pythonParseFloat(text), undefined, JSON.stringify(text));
});

test("str.strip() and str.split() use Python's whitespace, not JS's", () => {
  assert.equal(pythonStrip('\x1c\x1d ab c\x85\u3000'), 'ab c');
  assert.equal(pythonStrip('\ufeffab'), '\ufeffab'); // U+FEFF is JS whitespace, not Python's
  assert.deepEqual(pythonSplit('  a\tb\x1fc\u00a0d  '), ['a', 'b', 'c', 'd']);
  assert.deepEqual(pythonSplit(' \n '), []);
});
