// Readers for the two inputs of the data engine, both yielding ImageContext:
//  - the reference's caps/boxes JSONL ({id, image, captions[], instances[{category, bbox}]}, boxes
//    already normalised), e.g. llava/eval/table/caps_boxes_coco2014_val_80.jsonl;
//  - a COCO captions_*.json with its instances_*.json (pixel xywh boxes, normalised here).
// Every malformed input names the file, the line or image, and the field.

import { readFile } from 'node:fs/promises';
import { cocoBoxToNormalized, type ImageContext } from './context.js';

export class InputError extends Error {}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isFiniteNumbers(value: unknown, length: number): value is number[] {
  return Array.isArray(value) && value.length === length && value.every((v) => typeof v === 'number' && Number.isFinite(v));
}

/** Validates one parsed JSONL object; `where` is "file:line" for the error messages. */
export function checkImageContext(value: unknown, where: string): ImageContext {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${where}: expected a JSON object`);
  const o = value as Record<string, unknown>;
  const id = typeof o.id === 'number' && Number.isInteger(o.id) ? String(o.id) : o.id;
  if (typeof id !== 'string' || id === '') throw new InputError(`${where}: "id" must be a non-empty string`);
  if (typeof o.image !== 'string' || o.image === '') throw new InputError(`${where}: "image" must be a non-empty string (id ${id})`);
  if (!isStringArray(o.captions) || o.captions.length === 0) throw new InputError(`${where}: "captions" must be a non-empty array of strings (id ${id})`);
  const instances = o.instances ?? [];
  if (!Array.isArray(instances)) throw new InputError(`${where}: "instances" must be an array (id ${id})`);
  return {
    id,
    image: o.image,
    captions: o.captions,
    instances: instances.map((inst: unknown, i) => {
      const it = inst as Record<string, unknown> | null;
      if (typeof it?.category !== 'string' || it.category === '') throw new InputError(`${where}: instances[${i}].category must be a non-empty string (id ${id})`);
      if (!isFiniteNumbers(it.bbox, 4)) throw new InputError(`${where}: instances[${i}].bbox must be 4 finite numbers [x1, y1, x2, y2] (id ${id})`);
      return { category: it.category, bbox: it.bbox as [number, number, number, number] };
    }),
  };
}

/** Reads the caps/boxes JSONL. Blank lines are skipped; anything else must be a valid record. */
export async function readCapsBoxesJsonl(path: string): Promise<ImageContext[]> {
  const text = await readFile(path, 'utf8');
  const contexts: ImageContext[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new InputError(`${path}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
    contexts.push(checkImageContext(value, `${path}:${i + 1}`));
  });
  return contexts;
}

interface CocoImage { id: number; file_name: string; width: number; height: number }

async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new InputError(`${path}: cannot read COCO annotations (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

function arrayField(o: Record<string, unknown>, field: string, path: string): Record<string, unknown>[] {
  const v = o[field];
  if (!Array.isArray(v)) throw new InputError(`${path}: "${field}" must be an array`);
  return v as Record<string, unknown>[];
}

/**
 * Joins COCO captions and instances by image id. Images come in the captions file's order;
 * captions and boxes keep the annotation order. Ids are zero-padded to 12 digits as in
 * LLaVA-Instruct. An image with captions but no instances gets a captions-only context.
 */
export async function readCoco(captionsPath: string, instancesPath: string): Promise<ImageContext[]> {
  const captionsJson = await readJsonObject(captionsPath);
  const instancesJson = await readJsonObject(instancesPath);

  const categories = new Map<number, string>();
  for (const [i, c] of arrayField(instancesJson, 'categories', instancesPath).entries()) {
    if (typeof c.id !== 'number' || typeof c.name !== 'string') throw new InputError(`${instancesPath}: categories[${i}] needs a numeric "id" and a string "name"`);
    categories.set(c.id, c.name);
  }
  const images = new Map<number, CocoImage>();
  for (const [i, im] of arrayField(instancesJson, 'images', instancesPath).entries()) {
    const { id, file_name, width, height } = im;
    if (typeof id !== 'number' || typeof file_name !== 'string' || typeof width !== 'number' || typeof height !== 'number' || !(width > 0) || !(height > 0)) {
      throw new InputError(`${instancesPath}: images[${i}] needs numeric "id", string "file_name" and positive "width"/"height"`);
    }
    images.set(id, { id, file_name, width, height });
  }

  const contexts = new Map<number, ImageContext>();
  for (const [i, im] of arrayField(captionsJson, 'images', captionsPath).entries()) {
    if (typeof im.id !== 'number' || typeof im.file_name !== 'string') throw new InputError(`${captionsPath}: images[${i}] needs a numeric "id" and a string "file_name"`);
    contexts.set(im.id, { id: String(im.id).padStart(12, '0'), image: im.file_name, captions: [], instances: [] });
  }
  for (const [i, a] of arrayField(captionsJson, 'annotations', captionsPath).entries()) {
    const context = typeof a.image_id === 'number' ? contexts.get(a.image_id) : undefined;
    if (!context) throw new InputError(`${captionsPath}: annotations[${i}].image_id ${String(a.image_id)} is not in "images"`);
    if (typeof a.caption !== 'string') throw new InputError(`${captionsPath}: annotations[${i}].caption must be a string`);
    context.captions.push(a.caption);
  }
  for (const [i, a] of arrayField(instancesJson, 'annotations', instancesPath).entries()) {
    const image = typeof a.image_id === 'number' ? images.get(a.image_id) : undefined;
    if (!image) throw new InputError(`${instancesPath}: annotations[${i}].image_id ${String(a.image_id)} is not in "images"`);
    const category = typeof a.category_id === 'number' ? categories.get(a.category_id) : undefined;
    if (category === undefined) throw new InputError(`${instancesPath}: annotations[${i}].category_id ${String(a.category_id)} is not in "categories"`);
    if (!isFiniteNumbers(a.bbox, 4)) throw new InputError(`${instancesPath}: annotations[${i}].bbox must be 4 finite numbers [x, y, w, h]`);
    // Images with boxes but no captions have no context to show the model: skipped.
    contexts.get(image.id)?.instances.push({ category, bbox: cocoBoxToNormalized(a.bbox, image.width, image.height) });
  }
  return [...contexts.values()].filter((c) => c.captions.length > 0);
}
