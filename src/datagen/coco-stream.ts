// Streams the arrays of a COCO annotation file ({"images": [...], "annotations": [...], ...})
// element by element: instances_train2017.json is ~450 MB, mostly segmentation polygons the data
// engine never uses, and parsing it whole needs gigabytes of heap. The scanner tracks only JSON
// structure (strings, escapes, nesting); each array element's bytes are parsed on their own.
// Structural bytes are ASCII and never occur inside UTF-8 multi-byte sequences, so chunk
// boundaries need no decoding care.

import { createReadStream } from 'node:fs';
import { InputError } from './input-error.js';

const [LBRACE, RBRACE, LBRACKET, RBRACKET, QUOTE, BACKSLASH] = [0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x5c];
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * Calls `onElement(key, element, index)` for every object inside an array that is a value of the
 * top-level object (depth: top object 1, its arrays 2, their elements 3). Other values are skipped.
 */
export async function forEachArrayElement(
  path: string,
  onElement: (key: string, element: Record<string, unknown>, index: number) => void,
): Promise<void> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let started = false;
  let key = ''; // the last string seen at depth 1: the key of the value that follows
  let keyParts: Buffer[] | null = null;
  let arrayKey: string | null = null; // set while inside an array value of the top object
  let index = 0;
  let elementParts: Buffer[] | null = null;
  let offset = 0;

  let stream: AsyncIterable<Buffer>;
  try {
    stream = createReadStream(path, { highWaterMark: 1 << 20 });
  } catch (err) {
    throw new InputError(`${path}: cannot read COCO annotations (${(err as Error).message})`);
  }
  try {
    for await (const chunk of stream) {
      let keyFrom = keyParts ? 0 : -1;
      let elementFrom = elementParts ? 0 : -1;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (inString) {
          if (escaped) escaped = false;
          else if (b === BACKSLASH) escaped = true;
          else if (b === QUOTE) {
            inString = false;
            if (keyParts) {
              key = JSON.parse(
                `"${Buffer.concat([...keyParts, chunk.subarray(keyFrom, i)]).toString('utf8')}"`,
              ) as string;
              keyParts = null;
            }
          }
          continue;
        }
        if (!started) {
          if (isSpace(b)) continue;
          if (b !== LBRACE)
            throw new InputError(`${path}: not a COCO annotation file (expected a JSON object at byte ${offset + i})`);
          started = true;
        }
        if (b === QUOTE) {
          inString = true;
          if (depth === 1) {
            keyParts = [];
            keyFrom = i + 1;
          }
        } else if (b === LBRACE || b === LBRACKET) {
          depth++;
          if (depth === 2) {
            arrayKey = b === LBRACKET ? key : null;
            index = 0;
          } else if (depth === 3 && arrayKey !== null && b === LBRACE) {
            elementParts = [];
            elementFrom = i;
          }
        } else if (b === RBRACE || b === RBRACKET) {
          depth--;
          if (depth === 2 && elementParts) {
            const text = Buffer.concat([...elementParts, chunk.subarray(elementFrom, i + 1)]).toString('utf8');
            elementParts = null;
            let element: Record<string, unknown>;
            try {
              element = JSON.parse(text) as Record<string, unknown>;
            } catch (err) {
              throw new InputError(`${path}: ${arrayKey}[${index}] is not valid JSON (${(err as Error).message})`);
            }
            onElement(arrayKey!, element, index++);
          }
          if (depth < 0) throw new InputError(`${path}: unbalanced '${String.fromCharCode(b)}' at byte ${offset + i}`);
        }
      }
      if (keyParts) keyParts.push(chunk.subarray(keyFrom));
      if (elementParts) elementParts.push(chunk.subarray(elementFrom));
      offset += chunk.length;
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${path}: cannot read COCO annotations (${(err as Error).message})`);
  }
  if (!started) throw new InputError(`${path}: the file is empty`);
  if (depth !== 0 || inString) throw new InputError(`${path}: the JSON ends early (truncated file?)`);
}
