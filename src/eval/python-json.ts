// Python's text forms of data, as the reference's scripts write and read them:
// `json.dumps` with its defaults (", " and ": " separators, every non-ASCII character escaped,
// floats as repr, NaN/Infinity as bare tokens), `json.loads` (which accepts those tokens, unlike
// JSON.parse), and `repr(str)` (in the messages the scripts print).
//
// A JS number does not say whether Python had an int or a float: integers are written as ints
// and other numbers as floats, and `PyFloat` marks a value Python holds as a float (8.0, not 8).

import { pythonFloatStr } from './python-float.js';

export class PyFloat {
  constructor(readonly value: number) {}
}

/** A Map is a dict whose key order is kept as given (JS objects put integer-like keys first). */
export type PyValue =
  null | boolean | number | string | PyFloat | PyValue[] | Map<string, PyValue> | { [key: string]: PyValue };

const NAMED_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

function escapeAscii(text: string): string {
  // Python's ESCAPE_ASCII: everything outside ' '..'~', per UTF-16 unit, lower-case hex.
  return `"${text.replace(/[\\"]|[^ -~]/g, (c) => NAMED_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

function floatToken(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  return pythonFloatStr(x);
}

/** `json.dumps(value)` with Python's defaults, or `json.dumps(value, indent=n)`. */
export function pythonJsonDumps(value: PyValue, indent?: number): string {
  const write = (v: PyValue, depth: number): string => {
    if (v === null) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (v instanceof PyFloat) return floatToken(v.value);
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : floatToken(v);
    if (typeof v === 'string') return escapeAscii(v);
    const items = Array.isArray(v)
      ? v.map((x) => write(x, depth + 1))
      : [...(v instanceof Map ? v : Object.entries(v))].map(([k, x]) => `${escapeAscii(k)}: ${write(x, depth + 1)}`);
    const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
    if (items.length === 0) return `${open}${close}`;
    if (indent === undefined) return `${open}${items.join(', ')}${close}`;
    const pad = '\n' + ' '.repeat(indent * (depth + 1));
    return `${open}${pad}${items.join(`,${pad}`)}\n${' '.repeat(indent * depth)}${close}`;
  };
  return write(value, 0);
}

/**
 * `json.loads(text)`: standard JSON plus Python's NaN, Infinity and -Infinity. With `keepFloats`,
 * numbers written with a fraction or exponent come back as PyFloat (so `1.0` prints as `1.0`).
 */
export function pythonJsonLoads(text: string, { keepFloats = false } = {}): unknown {
  let at = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at character ${at}`);
  };
  const space = () => {
    while (at < text.length && ' \t\n\r'.includes(text[at]!)) at++;
  };
  const literal = (word: string, value: unknown) => {
    if (!text.startsWith(word, at)) fail(`unexpected ${JSON.stringify(text.slice(at, at + 10))}`);
    at += word.length;
    return value;
  };
  const value = (): unknown => {
    space();
    const c = text[at];
    if (c === '{') {
      at++;
      const object: Record<string, unknown> = {};
      space();
      if (text[at] === '}') return (at++, object);
      for (;;) {
        space();
        if (text[at] !== '"') fail('expected a property name');
        const key = string();
        space();
        if (text[at++] !== ':') fail("expected ':'");
        object[key] = value();
        space();
        const next = text[at++];
        if (next === '}') return object;
        if (next !== ',') fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      at++;
      const array: unknown[] = [];
      space();
      if (text[at] === ']') return (at++, array);
      for (;;) {
        array.push(value());
        space();
        const next = text[at++];
        if (next === ']') return array;
        if (next !== ',') fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    const float = (x: number) => (keepFloats ? new PyFloat(x) : x);
    if (c === 'N') return literal('NaN', float(NaN));
    if (c === 'I') return literal('Infinity', float(Infinity));
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    if (c === '-' && text.startsWith('-Infinity', at)) return literal('-Infinity', float(-Infinity));
    const number = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(at, at + 400));
    if (!number) return fail(c === undefined ? 'unexpected end of text' : `unexpected ${JSON.stringify(c)}`);
    at += number[0].length;
    return /[.eE]/.test(number[0]) ? float(Number(number[0])) : Number(number[0]);
  };
  const string = (): string => {
    const start = at++;
    while (at < text.length && text[at] !== '"') at += text[at] === '\\' ? 2 : 1;
    if (at >= text.length) fail('unterminated string');
    return JSON.parse(text.slice(start, ++at)) as string; // escapes and control characters as JSON has them
  };
  const result = value();
  space();
  if (at < text.length) fail('extra data after the value');
  return result;
}

/** Python's `repr(s)` of a str. */
export function pythonStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    if (c === quote || c === '\\') out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    // str.isprintable(): not in categories Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs (other than ' ').
    else if (c !== ' ' && /[\p{C}\p{Z}]/u.test(c))
      out +=
        cp < 0x100
          ? `\\x${cp.toString(16)}`
          : cp < 0x10000
            ? `\\u${cp.toString(16).padStart(4, '0')}`
            : `\\U${cp.toString(16).padStart(8, '0')}`;
    else out += c;
  }
  return `${quote}${out}${quote}`;
}

/** Python's `repr(value)` of what json.loads returns (str() of a list or dict is its repr). */
export function pythonRepr(value: PyValue): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value instanceof PyFloat) return pythonFloatStr(value.value);
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : pythonFloatStr(value);
  if (typeof value === 'string') return pythonStrRepr(value);
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  return `{${[...(value instanceof Map ? value : Object.entries(value))]
    .map(([k, v]) => `${pythonStrRepr(k)}: ${pythonRepr(v)}`)
    .join(', ')}}`;
}
