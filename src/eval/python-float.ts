// Python's float arithmetic at the edges where the reference's scripts print numbers:
// `round(x, n)`, `'%.nf' % x` and `float(text)`. Both roundings work on the exact binary value
// of the double with exact ties to even (CPython's correctly rounded dtoa); JS `toFixed` also
// rounds the exact value but breaks ties away from zero, and `Math.round(x * 10 ** n)` rounds
// the product, not x. `str(x)` is the shortest round-trip repr, shared with the data engine.

import { pythonStrip } from './python-str.js';

export { pythonFloatRepr as pythonFloatStr } from '../datagen/context.js';

/** x = sign * digits / 10^scale exactly (every finite double is a finite decimal fraction). */
function exactDecimal(x: number): { negative: boolean; digits: bigint; scale: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  // Subnormals have no implicit leading bit and the exponent of the smallest normal.
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (biased === 0 ? 1 : biased) - 1075; // x = mantissa * 2^exponent
  if (exponent >= 0) return { negative, digits: mantissa << BigInt(exponent), scale: 0 };
  // m / 2^k = m * 5^k / 10^k
  return { negative, digits: mantissa * 5n ** BigInt(-exponent), scale: -exponent };
}

/** |x| * 10^n rounded to an integer, exact ties to even. */
function roundedScaled(x: number, n: number): { negative: boolean; value: bigint } {
  const { negative, digits, scale } = exactDecimal(x);
  if (scale <= n) return { negative, value: digits * 10n ** BigInt(n - scale) };
  const divisor = 10n ** BigInt(scale - n);
  let value = digits / divisor;
  const twiceRemainder = 2n * (digits % divisor);
  if (twiceRemainder > divisor || (twiceRemainder === divisor && value % 2n === 1n)) value += 1n;
  return { negative, value };
}

function decimalText(value: bigint, n: number): string {
  const text = value.toString().padStart(n + 1, '0');
  return n === 0 ? text : `${text.slice(0, -n)}.${text.slice(-n)}`;
}

/** Python's `round(x, n)` for n >= 0: the double nearest x rounded to n decimals. */
export function pythonRound(x: number, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new Error(`pythonRound: n must be an integer >= 0, got ${n}`);
  if (!Number.isFinite(x)) return x;
  const { negative, value } = roundedScaled(x, n);
  return Number(`${negative ? '-' : ''}${decimalText(value, n)}`); // Number() is correctly rounded
}

/** Python's `'%.{n}f' % x`. */
export function pythonFixed(x: number, n: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const { negative, value } = roundedScaled(x, n);
  return `${negative ? '-' : ''}${decimalText(value, n)}`;
}

const DIGITS = '\\d(?:_?\\d)*';
const FLOAT_SYNTAX = new RegExp(`^[+-]?(?:${DIGITS}(?:\\.(?:${DIGITS})?)?|\\.${DIGITS})(?:[eE][+-]?${DIGITS})?$`);
const SPECIAL = /^([+-]?)(nan|inf|infinity)$/i;
const UNICODE_DIGIT = /\p{Nd}/u;

/** ASCII value of a Unicode decimal digit: Nd digits come in contiguous runs 0..9. */
function digitValue(char: string): string {
  let cp = char.codePointAt(0)!;
  let offset = 0;
  while (UNICODE_DIGIT.test(String.fromCodePoint(cp - 1))) {
    cp--;
    offset++;
  }
  return String(offset % 10);
}

/** Python's `float(text)`, or undefined where Python raises ValueError. */
export function pythonParseFloat(text: string): number | undefined {
  // Python first maps Unicode digits to ASCII (so full-width '８' is 8), then strips whitespace.
  const mapped = text.replace(/\p{Nd}/gu, (c) => (c >= '0' && c <= '9' ? c : digitValue(c)));
  const ascii = pythonStrip(mapped);
  const special = SPECIAL.exec(ascii);
  if (special) {
    if (special[2]!.toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  if (!FLOAT_SYNTAX.test(ascii)) return undefined;
  return Number(ascii.replaceAll('_', ''));
}
