// Python's json.dumps / json.loads / repr at the edges JS differs on, against Python's documented
// output written out by hand.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PyFloat, pythonJsonDumps, pythonJsonLoads, pythonRepr, pythonStrRepr } from '../../src/eval/index.js';

test('json.dumps: separators, ensure_ascii per UTF-16 unit, floats and ints, NaN tokens, indent', () => {
  assert.equal(
    pythonJsonDumps({ a: [1, new PyFloat(8), 7.5], b: null, c: true }),
    '{"a": [1, 8.0, 7.5], "b": null, "c": true}',
  );
  assert.equal(
    pythonJsonDumps('é\u2028😀\x7f\x01"\\\n\t'),
    '"\\u00e9\\u2028\\ud83d\\ude00\\u007f\\u0001\\"\\\\\\n\\t"',
  );
  assert.equal(
    pythonJsonDumps([new PyFloat(NaN), new PyFloat(Infinity), -Infinity, new PyFloat(1e16)]),
    '[NaN, Infinity, -Infinity, 1e+16]',
  );
  assert.equal(
    pythonJsonDumps(
      new Map([
        ['10', 1],
        ['9', 2],
      ]),
    ),
    '{"10": 1, "9": 2}',
  ); // insertion order kept
  assert.equal(
    pythonJsonDumps({ a: [1, { b: [] }], c: {} }, 2),
    '{\n  "a": [\n    1,\n    {\n      "b": []\n    }\n  ],\n  "c": {}\n}',
  );
});

test('json.loads: NaN and Infinity accepted, floats kept apart from ints on request, errors placed', () => {
  const v = pythonJsonLoads('{"t": [NaN, -Infinity, 8.0, 8, 1e2]}') as { t: number[] };
  assert.ok(Number.isNaN(v.t[0]));
  assert.deepEqual(v.t.slice(1), [-Infinity, 8, 8, 100]);
  const kept = pythonJsonLoads('[0.0, 1, 2.5e0]', { keepFloats: true }) as unknown[];
  assert.ok(kept[0] instanceof PyFloat && kept[1] === 1 && kept[2] instanceof PyFloat);
  assert.equal(pythonRepr(kept as never), '[0.0, 1, 2.5]');
  assert.throws(() => pythonJsonLoads('{"a": 1,}'), /expected a property name at character 8/);
  assert.throws(() => pythonJsonLoads('[1] 2'), /extra data/);
});

test("repr(str): Python's quote choice and escapes", () => {
  assert.equal(pythonStrRepr('8/10'), "'8/10'");
  assert.equal(pythonStrRepr("it's"), '"it\'s"');
  assert.equal(pythonStrRepr('it\'s "x"'), "'it\\'s \"x\"'");
  assert.equal(pythonStrRepr('a\nb\t\\\x00\x85'), "'a\\nb\\t\\\\\\x00\\x85'");
  assert.equal(pythonStrRepr('８\u00a0\u200b'), "'８\\xa0\\u200b'");
  assert.equal(pythonRepr({ k: [null, false] }), "{'k': [None, False]}");
});
