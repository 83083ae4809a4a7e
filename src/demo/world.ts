// The procedural world on disk, in the data engine's input format (the reference's caps/boxes JSONL):
//   <dir>/images/<id>.png       WORLD.imageSize² RGB
//   <dir>/train.jsonl           {"id", "image", "captions": [5], "instances": [{"category": "red circle", "bbox"}]}
//   <dir>/heldout.jsonl         the same for the held-out scenes (ids from HELD_OUT_BASE, never in train)
// bbox is [x1, y1, x2, y2] / imageSize rounded as Python's round(v, 3), written as Python's json.dumps writes the
// reference's file (0.0 keeps its ".0"), so eval's context reader prints the boxes as the judge expects.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { rng } from '../data/rng.js';
import { roundPython3, type ImageContext } from '../datagen/context.js';
import { PyFloat, pythonJsonDumps } from '../eval/python-json.js';
import { captionsOf, parseInventory } from './captions.js';
import { WORLD } from './config.js';
import { renderScene } from './render.js';
import {
  HELD_OUT_BASE,
  makeScene,
  sceneIndex,
  type Box,
  type Colour,
  type Scene,
  type Shape,
  type Size,
} from './scene.js';

export { captionsOf } from './captions.js';
export { renderScene } from './render.js';
export * from './scene.js';

/** The caption stream of a scene: a separate draw from its layout, so captions can change without moving shapes. */
const CAPTION_STREAM = 1;

export function sceneContext(scene: Scene, seed: number = WORLD.seed): ImageContext {
  return {
    id: scene.id,
    image: `${scene.id}.png`,
    captions: captionsOf(scene, rng(seed, sceneIndex(scene.id), CAPTION_STREAM)),
    instances: scene.objects.map((o) => ({
      category: `${o.colour} ${o.shape}`,
      bbox: o.box.map((v) => roundPython3(v / WORLD.imageSize)) as Box,
    })),
  };
}

const CATEGORY = new RegExp(`^(${WORLD.colours.join('|')}) (${WORLD.shapes.join('|')})$`);

/**
 * The scene a context describes. With boxes (every prompt type but conversation, and the judge), the boxes are
 * exact: 3 decimals of a 64-px grid round back to the pixel. Without them, the inventory caption gives each object
 * and its place, and the object gets a box that stands for that place. Unknown categories are left out.
 */
export function sceneFromContext(ctx: ImageContext): Scene {
  if (ctx.instances.length === 0) return { id: ctx.id, objects: parseInventory(ctx.captions[0] ?? '') };
  const objects = ctx.instances.flatMap(({ category, bbox }) => {
    const m = CATEGORY.exec(category);
    if (!m) return [];
    const box = bbox.map((v) => Math.round(v * WORLD.imageSize)) as Box;
    // The side tells the size (14 or 22 px); the midpoint splits them.
    const size: Size = box[2] - box[0] >= (WORLD.sizes.small + WORLD.sizes.large) / 2 ? 'large' : 'small';
    return [{ shape: m[2] as Shape, colour: m[1] as Colour, size, box }];
  });
  return { id: ctx.id, objects };
}

/** One caps/boxes line, as the reference writes it. */
export function contextLine(ctx: ImageContext): string {
  return pythonJsonDumps({
    id: ctx.id,
    image: ctx.image,
    captions: ctx.captions,
    instances: ctx.instances.map((i) => ({ category: i.category, bbox: i.bbox.map((v) => new PyFloat(v)) })),
  });
}

export interface WorldSplits {
  train: Scene[];
  heldOut: Scene[];
}

export function makeWorld({ seed, trainImages, heldOutImages }: WorldOptions): WorldSplits {
  if (trainImages > HELD_OUT_BASE) throw new Error(`world: at most ${HELD_OUT_BASE} train images`);
  return {
    train: Array.from({ length: trainImages }, (_, i) => makeScene(seed, i)),
    heldOut: Array.from({ length: heldOutImages }, (_, i) => makeScene(seed, HELD_OUT_BASE + i)),
  };
}

export interface WorldOptions {
  seed: number;
  trainImages: number;
  heldOutImages: number;
}

/** Writes the images and both caps/boxes files; returns the scenes. */
export async function writeWorld(dir: string, options: WorldOptions): Promise<WorldSplits> {
  const world = makeWorld(options);
  mkdirSync(join(dir, 'images'), { recursive: true });
  const size = WORLD.imageSize;
  for (const [name, scenes] of [
    ['train.jsonl', world.train],
    ['heldout.jsonl', world.heldOut],
  ] as const) {
    const contexts = scenes.map((scene) => sceneContext(scene, options.seed));
    // PNG encoding runs on libuv's pool: a batch at a time keeps its threads busy without holding every image.
    for (let start = 0; start < scenes.length; start += 32) {
      await Promise.all(
        scenes.slice(start, start + 32).map(async (scene, k) => {
          const raw = { width: size, height: size, channels: 3 } as const;
          const png = await sharp(renderScene(scene, size), { raw }).png().toBuffer();
          writeFileSync(join(dir, 'images', contexts[start + k]!.image), png);
        }),
      );
    }
    const lines = contexts.map(contextLine);
    writeFileSync(join(dir, name), lines.map((l) => `${l}\n`).join(''));
  }
  return world;
}
