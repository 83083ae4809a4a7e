// Where an image can come from when asking a model: a file path, the encoded bytes, a data: URL (what OpenAI-style
// clients send), or pixel values already preprocessed ([3, S, S], e.g. a test's fixed tensor).
import { Tensor } from '../torch/index.js';
import { decodeImage, decodeImageFile, ImageDecodeError, type DecodeOptions, type RgbImage } from '../vision/decode.js';

export type ImageInput = string | Uint8Array | Tensor;

/** Encoded image bytes from a `data:[<mime>];base64,<payload>` URL; other URL forms are refused by name. */
export function dataUrlBytes(url: string, source = 'image URL'): Buffer {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new ImageDecodeError(source, 'not a data: URL');
  const header = url.slice(5, comma);
  if (!header.split(';').includes('base64'))
    throw new ImageDecodeError(source, `data: URL is not base64-encoded ('${header}')`);
  const payload = url.slice(comma + 1).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) throw new ImageDecodeError(source, 'data: URL payload is not base64');
  return Buffer.from(payload, 'base64');
}

/** Decoded RGB for encoded inputs; a Tensor passes through as pixel values. `source` names bytes in errors. */
export async function loadImage(
  input: ImageInput,
  options: DecodeOptions = {},
  source = '<buffer>',
): Promise<RgbImage | Tensor> {
  if (input instanceof Tensor) {
    if (input.ndim !== 3 || input.size(0) !== 3)
      throw new Error(`image: pixel values must be [3, H, W], got [${input.shape}]`);
    return input;
  }
  if (typeof input !== 'string') return decodeImage(input, options, source);
  if (input.startsWith('data:')) return decodeImage(dataUrlBytes(input), options, 'data: URL');
  return decodeImageFile(input, options);
}
