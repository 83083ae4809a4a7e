// Python's str methods where they differ from JS's: strip() and split() with no argument use
// Python's whitespace set (Py_UNICODE_ISSPACE). JS's \s has U+FEFF and lacks U+001C..U+001F
// and U+0085.

const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');
const RUNS = new RegExp(`[${PY_SPACE}]+`);

/** `s.strip()` */
export function pythonStrip(s: string): string {
  return s.replace(STRIP, '');
}

/** `s.split()`: runs of whitespace separate, no empty pieces. */
export function pythonSplit(s: string): string[] {
  const stripped = pythonStrip(s);
  return stripped === '' ? [] : stripped.split(RUNS);
}
