// JSONL as the reference reads it: Python iterates the file in universal-newline mode and runs
// json.loads on every line (so NaN/Infinity are accepted and a blank line is an error). Errors
// name the file and the 1-based line.

import { readFileSync } from 'node:fs';
import { pythonJsonLoads } from './python-json.js';

export interface JsonlLine {
  line: number;
  value: unknown;
}

export interface JsonlOptions {
  /** Floats as PyFloat (see pythonJsonLoads), for text that must print them as Python does. */
  keepFloats?: boolean;
}

export function parseJsonl(text: string, source: string, options: JsonlOptions = {}): JsonlLine[] {
  if (text === '') return [];
  const lines = text.split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop(); // the final newline ends the last line
  return lines.map((line, i) => {
    try {
      return { line: i + 1, value: pythonJsonLoads(line, options) };
    } catch (err) {
      const what = line.trim() === '' ? 'empty line' : (err as Error).message;
      throw new Error(`${source}:${i + 1}: not a JSON line (${what})`);
    }
  });
}

export function readJsonl(path: string, options: JsonlOptions = {}): JsonlLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path} (${(err as Error).message})`);
  }
  return parseJsonl(text, path, options);
}

/** Each line's value as an object, or an error naming the line that is not one. */
export function readJsonlObjects(
  path: string,
  options: JsonlOptions = {},
): { line: number; record: Record<string, unknown> }[] {
  return readJsonl(path, options).map(({ line, value }) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error(`${path}:${line}: expected a JSON object, got ${JSON.stringify(value)?.slice(0, 60)}`);
    return { line, record: value as Record<string, unknown> };
  });
}
