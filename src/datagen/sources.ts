// Readers for the two inputs of the data engine, both yielding ImageContext:
//  - the reference's caps/boxes JSONL ({id, image, captions[], instances[{category, bbox}]}, boxes
//    already normalised), e.g. llava/eval/table/caps_boxes_coco2014_val_80.jsonl, or a JSON array;
//  - a COCO captions_*.json with its instances_*.json (pixel xywh boxes, normalised here).
// Every malformed input names the file, the line or image, and the field.

import { readRecords } from '../data/json-records.js';
import { forEachArrayElement } from './coco-stream.js';
import { cocoBoxToNormalized, type ImageContext } from './context.js';
import { InputError } from './input-error.js';

export { InputError };

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isFiniteNumbers(value: unknown, length: number): value is number[] {
  return (
    Array.isArray(value) && value.length === length && value.every((v) => typeof v === 'number' && Number.isFinite(v))
  );
}

/** Validates one parsed JSONL object; `where` is "file:line" for the error messages. */
export function checkImageContext(value: unknown, where: string): ImageContext {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(`${where}: expected a JSON object`);
  const o = value as Record<string, unknown>;
  const id = typeof o.id === 'number' && Number.isInteger(o.id) ? String(o.id) : o.id;
  if (typeof id !== 'string' || id === '') throw new InputError(`${where}: "id" must be a non-empty string`);
  if (typeof o.image !== 'string' || o.image === '')
    throw new InputError(`${where}: "image" must be a non-empty string (id ${id})`);
  if (!isStringArray(o.captions) || o.captions.length === 0)
    throw new InputError(`${where}: "captions" must be a non-empty array of strings (id ${id})`);
  const instances = o.instances ?? [];
  if (!Array.isArray(instances)) throw new InputError(`${where}: "instances" must be an array (id ${id})`);
  return {
    id,
    image: o.image,
    captions: o.captions,
    instances: instances.map((inst: unknown, i) => {
      const it = inst as Record<string, unknown> | null;
      if (typeof it?.category !== 'string' || it.category === '')
        throw new InputError(`${where}: instances[${i}].category must be a non-empty string (id ${id})`);
      if (!isFiniteNumbers(it.bbox, 4))
        throw new InputError(`${where}: instances[${i}].bbox must be 4 finite numbers [x1, y1, x2, y2] (id ${id})`);
      return { category: it.category, bbox: it.bbox as [number, number, number, number] };
    }),
  };
}

/**
 * Reads the caps/boxes records, as JSON lines or as one JSON array (streamed with the training
 * data's record scanner, so the file may be larger than a string can hold).
 */
export async function readCapsBoxesJsonl(path: string): Promise<ImageContext[]> {
  const contexts: ImageContext[] = [];
  try {
    for await (const record of readRecords(path)) {
      const where = `${path}:${record.line}`;
      let value: unknown;
      try {
        value = JSON.parse(record.bytes.toString('utf8'));
      } catch (err) {
        throw new InputError(`${where}: not valid JSON (${(err as Error).message})`);
      }
      contexts.push(checkImageContext(value, where));
    }
  } catch (err) {
    throw err instanceof InputError
      ? err
      : new InputError(`${path}: cannot read captions and boxes (${(err as Error).message})`);
  }
  return contexts;
}

function field<T>(ok: boolean, value: unknown, message: () => string): T {
  if (!ok) throw new InputError(message());
  return value as T;
}

/**
 * Joins COCO captions and instances by image id. Images come in the captions file's order;
 * captions and boxes keep the annotation order. Ids are zero-padded to 12 digits as in
 * LLaVA-Instruct. An image with captions but no instances gets a captions-only context; images
 * without captions are left out (there is nothing to show the model). Both files are streamed.
 */
export async function readCoco(captionsPath: string, instancesPath: string): Promise<ImageContext[]> {
  const contexts = new Map<number, ImageContext>();
  await forEachArrayElement(captionsPath, (key, e, i) => {
    const where = () => `${captionsPath}: ${key}[${i}]`;
    if (key === 'images') {
      field(
        typeof e.id === 'number' && typeof e.file_name === 'string',
        null,
        () => `${where()} needs a numeric "id" and a string "file_name"`,
      );
      contexts.set(e.id as number, {
        id: String(e.id).padStart(12, '0'),
        image: e.file_name as string,
        captions: [],
        instances: [],
      });
    } else if (key === 'annotations') {
      const context = field<ImageContext>(
        typeof e.image_id === 'number' && contexts.has(e.image_id),
        contexts.get(e.image_id as number),
        () => `${where()}.image_id ${String(e.image_id)} is not in "images" (which must come first)`,
      );
      context.captions.push(
        field<string>(typeof e.caption === 'string', e.caption, () => `${where()}.caption must be a string`),
      );
    }
  });

  // instances_*.json lists categories after annotations: keep boxes raw until the end.
  const sizes = new Map<number, [number, number]>();
  const categories = new Map<number, string>();
  const boxes: { imageId: number; categoryId: number; bbox: number[]; index: number }[] = [];
  await forEachArrayElement(instancesPath, (key, e, i) => {
    const where = () => `${instancesPath}: ${key}[${i}]`;
    if (key === 'images') {
      const ok =
        typeof e.id === 'number' &&
        typeof e.width === 'number' &&
        typeof e.height === 'number' &&
        e.width > 0 &&
        e.height > 0;
      field(ok, null, () => `${where()} needs a numeric "id" and positive "width"/"height"`);
      sizes.set(e.id as number, [e.width as number, e.height as number]);
    } else if (key === 'categories') {
      field(
        typeof e.id === 'number' && typeof e.name === 'string',
        null,
        () => `${where()} needs a numeric "id" and a string "name"`,
      );
      categories.set(e.id as number, e.name as string);
    } else if (key === 'annotations') {
      field(
        typeof e.image_id === 'number' && typeof e.category_id === 'number',
        null,
        () => `${where()} needs numeric "image_id" and "category_id"`,
      );
      field(isFiniteNumbers(e.bbox, 4), null, () => `${where()}.bbox must be 4 finite numbers [x, y, w, h]`);
      boxes.push({
        imageId: e.image_id as number,
        categoryId: e.category_id as number,
        bbox: e.bbox as number[],
        index: i,
      });
    }
  });
  for (const { imageId, categoryId, bbox, index } of boxes) {
    const where = `${instancesPath}: annotations[${index}]`;
    const size = field<[number, number]>(
      sizes.has(imageId),
      sizes.get(imageId),
      () => `${where}.image_id ${imageId} is not in "images"`,
    );
    const category = field<string>(
      categories.has(categoryId),
      categories.get(categoryId),
      () => `${where}.category_id ${categoryId} is not in "categories"`,
    );
    contexts.get(imageId)?.instances.push({ category, bbox: cocoBoxToNormalized(bbox, size[0], size[1]) });
  }
  return [...contexts.values()].filter((c) => c.captions.length > 0);
}
