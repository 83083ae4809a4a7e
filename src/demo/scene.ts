// The procedural world's scenes: 1..maxObjects filled shapes on a light background, each shape at most once (so
// "the circle" names one object), placed so that every object stays identifiable: its box centre lies in no other
// object's box (the centre pixel always shows its own colour) and at most 30% of its box lies under other boxes.
// A scene is a pure function of (seed, index): the train and held-out splits are index ranges that never meet.

import { permutation, rng } from '../data/rng.js';
import { WORLD } from './config.js';

export type Shape = (typeof WORLD.shapes)[number];
export type Colour = (typeof WORLD.colours)[number];
export type Size = keyof typeof WORLD.sizes;
/** Pixels on the WORLD.imageSize grid: [x1, y1, x2, y2), x2 - x1 = y2 - y1 = the size's side. */
export type Box = [number, number, number, number];

export interface WorldObject {
  shape: Shape;
  colour: Colour;
  size: Size;
  box: Box;
}

export interface Scene {
  id: string;
  objects: WorldObject[];
}

/** Exact fill colours: the renderer paints objects without noise so a pixel names its object's colour. */
export const COLOUR_RGB: Record<Colour, readonly [number, number, number]> = {
  red: [220, 40, 40],
  green: [40, 170, 60],
  blue: [40, 80, 220],
  yellow: [235, 200, 30],
  purple: [140, 60, 180],
  orange: [245, 130, 20],
};

/** Held-out scenes are indices from here on, so growing the train split never renames a held-out image. */
export const HELD_OUT_BASE = 500_000;
const MAX_COVERED = 0.3;
const PLACEMENT_TRIES = 50;

export function sceneId(index: number): string {
  return `w${String(index).padStart(6, '0')}`;
}

/** The index a scene id stands for: every per-scene draw (captions, questions) is seeded by it. */
export function sceneIndex(id: string): number {
  const m = /^w(\d+)$/.exec(id);
  if (!m) throw new Error(`world: scene id ${JSON.stringify(id)} is not "w" and digits`);
  return Number(m[1]);
}

const area = (b: Box) => (b[2] - b[0]) * (b[3] - b[1]);
function intersection(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  return w > 0 && h > 0 ? w * h : 0;
}
export const boxCentre = (b: Box): [number, number] => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
/** The pixel whose centre is the box centre (boxes have even sides, so that is the pixel right-below it). */
export const centrePixel = (b: Box): [number, number] => boxCentre(b).map(Math.floor) as [number, number];
const contains = (b: Box, [x, y]: [number, number]) => x >= b[0] && x < b[2] && y >= b[1] && y < b[3];

/** Whether `boxes` keep every object identifiable (see the file comment). */
export function identifiable(boxes: Box[]): boolean {
  return boxes.every((b, i) => {
    const others = boxes.filter((_, j) => j !== i);
    const covered = others.reduce((sum, o) => sum + intersection(b, o), 0);
    return covered <= MAX_COVERED * area(b) && others.every((o) => !contains(o, centrePixel(b)));
  });
}

/** Scene `index` of the world drawn with `seed`. An object that finds no free place is left out. */
export function makeScene(seed: number, index: number): Scene {
  const next = rng(seed, index);
  const count = 1 + Math.floor(next() * WORLD.maxObjects);
  const shapes = permutation(WORLD.shapes.length, next).slice(0, count);
  const objects: WorldObject[] = [];
  for (const s of shapes) {
    const colour = WORLD.colours[Math.floor(next() * WORLD.colours.length)]!;
    const size: Size = next() < 0.5 ? 'small' : 'large';
    const side = WORLD.sizes[size];
    for (let t = 0; t < PLACEMENT_TRIES; t++) {
      const x = Math.floor(next() * (WORLD.imageSize - side + 1));
      const y = Math.floor(next() * (WORLD.imageSize - side + 1));
      const box: Box = [x, y, x + side, y + side];
      if (identifiable([...objects.map((o) => o.box), box])) {
        objects.push({ shape: WORLD.shapes[s]!, colour, size, box });
        break;
      }
    }
  }
  return { id: sceneId(index), objects };
}

export type Horizontal = 'left' | 'middle' | 'right';
export type Vertical = 'top' | 'middle' | 'bottom';

/** Rough position: the outer 40% on each side is left/right (top/bottom), the central 20% the middle. */
export function zone(box: Box): { h: Horizontal; v: Vertical } {
  const [cx, cy] = boxCentre(box).map((c) => c / WORLD.imageSize) as [number, number];
  return {
    h: cx < 0.4 ? 'left' : cx > 0.6 ? 'right' : 'middle',
    v: cy < 0.4 ? 'top' : cy > 0.6 ? 'bottom' : 'middle',
  };
}

/** The box a zone stands for when only captions are known (its centre lies in that zone). */
export function zoneBox(h: Horizontal, v: Vertical, size: Size): Box {
  const side = WORLD.sizes[size];
  const at = { left: 0.2, top: 0.2, middle: 0.5, right: 0.8, bottom: 0.8 };
  const x = Math.round(at[h] * WORLD.imageSize - side / 2);
  const y = Math.round(at[v] * WORLD.imageSize - side / 2);
  return [x, y, x + side, y + side];
}

/** The object with this shape, if the scene has one. */
export function objectWith(scene: Scene, shape: string): WorldObject | undefined {
  return scene.objects.find((o) => o.shape === shape);
}
