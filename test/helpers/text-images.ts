// Small synthetic images for tests, written with sharp from raw pixels of known value.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

export function tempDir(prefix = 'llava-img-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A width x height image of one colour (channels = colour.length: 1 gray, 3 RGB, 4 RGBA) as raw bytes. */
export function solid(width: number, height: number, colour: number[]): Buffer {
  const px = Buffer.alloc(width * height * colour.length);
  for (let i = 0; i < width * height; i++) px.set(colour, i * colour.length);
  return px;
}

export function rawImage(pixels: Buffer, width: number, height: number, channels: 1 | 2 | 3 | 4) {
  return sharp(pixels, { raw: { width, height, channels } });
}

/** A w x h RGB image whose pixel (x, y) is (x * 10, y * 10, 7): positions are readable back from values. */
export function coordinates(width: number, height: number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) px.set([x * 10, y * 10, 7], (y * width + x) * 3);
  return px;
}
