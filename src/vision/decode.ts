// Image decoding with sharp into 8-bit interleaved RGB, matching what the reference gets from PIL's
// `Image.open(path).convert('RGB')`: the first frame of animations, grayscale replicated to three channels, alpha
// dropped with the stored colour kept, embedded ICC profiles and EXIF orientation not applied (PIL applies neither;
// `orientation: 'exif'` opts in). Every failure names the file and what is wrong with it.
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';

/** Interleaved RGB, row-major: data[(y * width + x) * 3 + c]. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (decompression bombs). Default: PIL's bomb error threshold. */
  maxPixels?: number;
  /** 'ignore' (default, the reference's PIL behaviour) or 'exif' to rotate/flip by the EXIF Orientation tag. */
  orientation?: 'ignore' | 'exif';
}

/** PIL raises DecompressionBombError above 2 x MAX_IMAGE_PIXELS (89,478,485). */
export const DEFAULT_MAX_PIXELS = 2 * 89_478_485;

export class ImageDecodeError extends Error {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`image ${source}: ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

export async function decodeImageFile(path: string, options: DecodeOptions = {}): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(path, code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? String(err)})`);
  }
  return decodeImage(bytes, options, path);
}

export async function decodeImage(
  bytes: Uint8Array,
  options: DecodeOptions = {},
  source = '<buffer>',
): Promise<RgbImage> {
  if (bytes.length === 0) throw new ImageDecodeError(source, 'file is empty (0 bytes)');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: 'error' }).metadata();
  } catch (err) {
    throw new ImageDecodeError(source, `not a readable image (${messageOf(err)})`);
  }
  const { width, height } = meta;
  if (!width || !height) throw new ImageDecodeError(source, `image has zero size (${width ?? 0}x${height ?? 0})`);
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      source,
      `${width}x${height} = ${width * height} pixels is over the limit of ${maxPixels} (possible decompression bomb)`,
    );
  }
  try {
    let pipeline = sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels, ignoreIcc: true, pages: 1 });
    if (options.orientation === 'exif') pipeline = pipeline.autoOrient();
    const { data, info } = await pipeline
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoder returned ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (err) {
    throw new ImageDecodeError(source, `corrupt or truncated image data (${messageOf(err)})`);
  }
}

function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
}
