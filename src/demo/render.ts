// Drawing a scene: a light background with a per-scene tint and mild pixel noise (so the vision tower cannot key
// on one background value), then each object filled with its exact colour and exact geometry, later objects on
// top. A pixel belongs to a shape when its centre lies inside it, measured on the WORLD.imageSize grid, so any
// render size draws the same geometry.

import { createHash } from 'node:crypto';
import { rng } from '../data/rng.js';
import { WORLD } from './config.js';
import { COLOUR_RGB, type Shape, type Scene, type WorldObject } from './scene.js';

/** Whether world point (x, y) is inside the object's shape (its box is the shape's bounding square). */
export function insideShape(shape: Shape, box: WorldObject['box'], x: number, y: number): boolean {
  const [x1, y1, x2, y2] = box;
  if (x < x1 || x >= x2 || y < y1 || y >= y2) return false;
  const side = x2 - x1;
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  switch (shape) {
    case 'square':
      return true;
    case 'circle':
      return (x - cx) ** 2 + (y - cy) ** 2 <= (side / 2) ** 2;
    case 'triangle': // apex at the top centre, base along the bottom edge
      return Math.abs(x - cx) <= ((y - y1) / side) * (side / 2);
    case 'cross': // a plus sign whose bars are a third of the side thick
      return Math.abs(x - cx) <= side / 6 || Math.abs(y - cy) <= side / 6;
  }
}

function seedOf(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0);
}

/** Mulberry32: the per-pixel noise needs 4096 draws an image, which the BigInt generator makes 10x slower. */
function fastNoise(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** RGB bytes, row-major [size, size, 3]. */
export function renderScene(scene: Scene, size: number = WORLD.imageSize): Buffer {
  const next = rng(seedOf(scene.id));
  // Background channels 222..252 (tint 225..249, noise ±3): far from every fill colour in at least one channel.
  const tint = [0, 1, 2].map(() => 225 + Math.floor(next() * 25));
  const noiseDraw = fastNoise(Math.floor(next() * 2 ** 32));
  const pixels = Buffer.alloc(size * size * 3);
  const scale = WORLD.imageSize / size;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const x = (px + 0.5) * scale;
      const y = (py + 0.5) * scale;
      let colour: readonly number[] | undefined;
      for (const o of scene.objects) if (insideShape(o.shape, o.box, x, y)) colour = COLOUR_RGB[o.colour];
      const at = (py * size + px) * 3;
      const noise = Math.floor(noiseDraw() * 7) - 3;
      for (let c = 0; c < 3; c++) pixels[at + c] = colour ? colour[c]! : tint[c]! + noise;
    }
  }
  return pixels;
}
