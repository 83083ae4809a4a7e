// The small vocabulary every text of the world is built from (captions, questions, the teacher's replies), so the
// judge can read claims back out of any of them and the tokenizer sees one consistent language.

import type { Scene, WorldObject } from './scene.js';
import { zone, type Horizontal, type Vertical } from './scene.js';

export const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six'] as const;

/** "a", "a and b", "a, b and c". */
export function listPhrase(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

export const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`);

/** "red circle", "large red circle". */
export function objectName(o: WorldObject, withSize = false): string {
  return withSize ? `${o.size} ${o.colour} ${o.shape}` : `${o.colour} ${o.shape}`;
}

export const named = (o: WorldObject, withSize = false) => `the ${objectName(o, withSize)}`;

/** "a red circle, a blue square and a green triangle". */
export const inventory = (objects: WorldObject[], withSize = false) =>
  listPhrase(objects.map((o) => article(objectName(o, withSize))));

/** Where an object is, as a phrase after its name: "at the top left", "on the left", "in the middle". */
export function wherePhrase(h: Horizontal, v: Vertical): string {
  if (h === 'middle' && v === 'middle') return 'in the middle';
  if (v === 'middle') return `on the ${h}`;
  if (h === 'middle') return `at the ${v}`;
  return `at the ${v} ${h}`;
}

export function placeOf(o: WorldObject): string {
  const { h, v } = zone(o.box);
  return wherePhrase(h, v);
}

/** The inverse of wherePhrase, for captions read back. */
export function parseWhere(phrase: string): { h: Horizontal; v: Vertical } | undefined {
  if (phrase === 'in the middle') return { h: 'middle', v: 'middle' };
  const side = /^on the (left|right)$/.exec(phrase);
  if (side) return { h: side[1] as Horizontal, v: 'middle' };
  const edge = /^at the (top|bottom)(?: (left|right))?$/.exec(phrase);
  if (edge) return { h: (edge[2] ?? 'middle') as Horizontal, v: edge[1] as Vertical };
  return undefined;
}

/** "one shape", "three shapes". */
export function countPhrase(n: number): string {
  return `${NUMBER_WORDS[n]} ${n === 1 ? 'shape' : 'shapes'}`;
}

/** Objects ordered left to right, or undefined when two neighbours are too close to tell apart. */
export function leftToRight(scene: Scene): WorldObject[] | undefined {
  const sorted = [...scene.objects].sort((a, b) => a.box[0] + a.box[2] - (b.box[0] + b.box[2]));
  for (let i = 1; i < sorted.length; i++) {
    // Centres at least 6 px apart (12 in the doubled sums) read as clearly left and right of each other.
    if (sorted[i]!.box[0] + sorted[i]!.box[2] - (sorted[i - 1]!.box[0] + sorted[i - 1]!.box[2]) < 12) return undefined;
  }
  return sorted;
}

/** A small deterministic picker: seeded draws of indices. */
export type Pick = <T>(items: readonly T[]) => T;
export function picker(next: () => number): Pick {
  return (items) => items[Math.floor(next() * items.length)]!;
}
