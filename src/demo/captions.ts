// Five captions per scene, each a different view of the same truth (as COCO's five annotators): a full inventory
// with sizes and places, the count, the colours, the arrangement, the sizes. The first is the full inventory in a
// fixed grammar, so a captions-only context (the conversation prompt shows no boxes) still gives back the scene.

import { permutation } from '../data/rng.js';
import { WORLD } from './config.js';
import {
  article,
  capitalise,
  countPhrase,
  leftToRight,
  listPhrase,
  NUMBER_WORDS,
  objectName,
  parseWhere,
  placeOf,
  picker,
} from './phrases.js';
import { zoneBox, type Colour, type Scene, type Shape, type Size, type WorldObject } from './scene.js';

const isAre = (n: number) => (n === 1 ? 'is' : 'are');

function inventory(objects: WorldObject[], opener: string): string {
  const items = objects.map((o) => `${article(objectName(o, true))} ${placeOf(o)}`);
  return `${capitalise(`${opener}${listPhrase(items)}`)}.`;
}

function countCaption(objects: WorldObject[], pick: ReturnType<typeof picker>): string {
  if (objects.length === 1) return `A single ${objectName(objects[0]!)} on a light background.`;
  const shapes = listPhrase(objects.map((o) => article(o.shape)));
  return pick([
    `${capitalise(countPhrase(objects.length))} on a light background: ${shapes}.`,
    `An image with ${countPhrase(objects.length)}: ${shapes}.`,
  ]);
}

function colourCaption(objects: WorldObject[], pick: ReturnType<typeof picker>): string {
  const names = listPhrase(objects.map((o) => article(objectName(o))));
  return pick([`There ${isAre(objects.length)} ${names} in the image.`, `${capitalise(names)} on a plain background.`]);
}

function arrangementCaption(scene: Scene): string {
  const order = leftToRight(scene);
  if (order && order.length > 1) return `From left to right: ${listPhrase(order.map((o) => `the ${objectName(o)}`))}.`;
  return `${capitalise(listPhrase(scene.objects.map((o) => `the ${o.shape} is ${placeOf(o)}`)))}.`;
}

function sizeCaption(objects: WorldObject[]): string {
  if (objects.length === 1) return `The ${objectName(objects[0]!)} is ${objects[0]!.size}.`;
  const groups = (['large', 'small'] as const)
    .map((size) => objects.filter((o) => o.size === size))
    .filter((g) => g.length > 0);
  if (groups.length === 1) {
    const all = objects.length === 2 ? 'Both shapes are' : `All ${NUMBER_WORDS[objects.length]} shapes are`;
    return `${all} ${objects[0]!.size}.`;
  }
  const part = (g: WorldObject[]) => `the ${listPhrase(g.map((o) => o.shape))} ${isAre(g.length)} ${g[0]!.size}`;
  return `${capitalise(part(groups[0]!))} and ${part(groups[1]!)}.`;
}

/** The five captions, the inventory first; the other four in a seeded order. */
export function captionsOf(scene: Scene, next: () => number): string[] {
  const pick = picker(next);
  const shuffled = permutation(scene.objects.length, next).map((i) => scene.objects[i]!);
  const opener = pick(['', 'a picture of ', 'an image showing ', 'there is ']);
  const others = [
    countCaption(shuffled, pick),
    colourCaption(shuffled, pick),
    arrangementCaption(scene),
    sizeCaption(shuffled),
  ];
  return [inventory(shuffled, opener), ...permutation(others.length, next).map((i) => others[i]!)];
}

const INVENTORY_ITEM = new RegExp(
  `\\b(small|large) (${WORLD.colours.join('|')}) (${WORLD.shapes.join('|')}) ` +
    `((?:at|on|in) the (?:top|bottom|left|right|middle)(?: (?:left|right))?)`,
  'g',
);

/** The objects of an inventory caption, each in a box that stands for its stated place. */
export function parseInventory(caption: string): WorldObject[] {
  return [...caption.matchAll(INVENTORY_ITEM)].flatMap((m) => {
    const where = parseWhere(m[4]!);
    if (!where) return [];
    const size = m[1] as Size;
    return [{ shape: m[3] as Shape, colour: m[2] as Colour, size, box: zoneBox(where.h, where.v, size) }];
  });
}
