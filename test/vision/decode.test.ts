// Decoding every format the data can hold into the RGB that PIL's convert('RGB') gives, and every bad image
// becoming an error that names the file and the problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, decodeImageFile, ImageDecodeError } from '../../src/vision/decode.js';
import { coordinates, rawImage, solid, tempDir } from '../helpers/text-images.js';

const dir = tempDir();
const pixel = (img: { data: Uint8Array; width: number }, x: number, y: number) =>
  Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

test('PNG and lossless WebP decode exactly; JPEG within a few levels', async () => {
  const px = coordinates(6, 4);
  for (const [format, tolerance] of [
    ['png', 0],
    ['webp', 0],
    ['jpeg', 6],
  ] as const) {
    let pipeline = rawImage(px, 6, 4, 3);
    pipeline =
      format === 'png'
        ? pipeline.png()
        : format === 'webp'
          ? pipeline.webp({ lossless: true })
          : pipeline.jpeg({ quality: 100, chromaSubsampling: '4:4:4' });
    const img = await decodeImage(await pipeline.toBuffer());
    assert.deepEqual([img.width, img.height], [6, 4], format);
    for (let i = 0; i < px.length; i++)
      assert.ok(Math.abs(img.data[i]! - px[i]!) <= tolerance, `${format} byte ${i}: ${img.data[i]} vs ${px[i]}`);
  }
});

test('grayscale is replicated to RGB; alpha is dropped keeping the stored colour, as convert("RGB")', async () => {
  const gray = await decodeImage(
    await rawImage(solid(3, 2, [77]), 3, 2, 1)
      .png()
      .toBuffer(),
  );
  assert.deepEqual(pixel(gray, 2, 1), [77, 77, 77]);
  const rgba = await decodeImage(
    await rawImage(solid(3, 2, [200, 100, 50, 0]), 3, 2, 4)
      .png()
      .toBuffer(),
  );
  assert.deepEqual(pixel(rgba, 0, 0), [200, 100, 50]);
});

test('an animated GIF gives its first frame', async () => {
  const red = await rawImage(solid(4, 4, [255, 0, 0]), 4, 4, 3)
    .png()
    .toBuffer();
  const blue = await rawImage(solid(4, 4, [0, 0, 255]), 4, 4, 3)
    .png()
    .toBuffer();
  const gif = await sharp([red, blue], { join: { animated: true } })
    .gif()
    .toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2);
  const img = await decodeImage(gif);
  assert.deepEqual([img.width, img.height], [4, 4]);
  assert.deepEqual(pixel(img, 1, 1), [255, 0, 0]);
});

test('EXIF orientation is ignored by default (as PIL) and applied on request', async () => {
  // Orientation 6 = rotate 90° clockwise to display.
  const jpeg = await rawImage(solid(8, 4, [120, 120, 120]), 8, 4, 3)
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const stored = await decodeImage(jpeg);
  assert.deepEqual([stored.width, stored.height], [8, 4]);
  const upright = await decodeImage(jpeg, { orientation: 'exif' });
  assert.deepEqual([upright.width, upright.height], [4, 8]);
});

test('bad images: missing, empty, corrupt, truncated, over the pixel limit — each named and explained', async () => {
  const jpeg = await rawImage(coordinates(24, 24), 24, 24, 3).jpeg().toBuffer();
  const files: Record<string, Buffer> = {
    'empty.jpg': Buffer.alloc(0),
    'corrupt.jpg': Buffer.from('this is not an image at all, just text pretending'),
    'truncated.jpg': jpeg.subarray(0, Math.floor(jpeg.length / 2)),
    'big.jpg': jpeg,
  };
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  const expectError = async (name: string, pattern: RegExp, options = {}) => {
    await assert.rejects(decodeImageFile(join(dir, name), options), (err: Error) => {
      assert.ok(err instanceof ImageDecodeError, `${name}: ${err}`);
      assert.ok(err.message.includes(join(dir, name)), err.message);
      assert.match(err.message, pattern);
      return true;
    });
  };
  await expectError('missing.jpg', /file not found/);
  await expectError('empty.jpg', /empty \(0 bytes\)/);
  await expectError('corrupt.jpg', /not a readable image/);
  await expectError('truncated.jpg', /premature end of JPEG/);
  await expectError('big.jpg', /24x24 = 576 pixels is over the limit of 500 \(possible decompression bomb\)/, {
    maxPixels: 500,
  });
  assert.equal((await decodeImageFile(join(dir, 'big.jpg'))).width, 24);
});

test('a PNG whose header says 0x0 is refused', async () => {
  const png = await rawImage(solid(1, 1, [1, 2, 3]), 1, 1, 3)
    .png()
    .toBuffer();
  // IHDR width/height are the 8 bytes after "IHDR" at offset 12.
  const zero = Buffer.from(png);
  zero.fill(0, 16, 24);
  await assert.rejects(
    decodeImage(zero, {}, 'zero.png'),
    /image zero\.png: (not a readable image|image has zero size)/,
  );
});
