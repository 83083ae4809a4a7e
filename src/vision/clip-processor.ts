// transformers' CLIPImageProcessor as LLaVA uses it (spec §5.3): shortest edge resized with PIL bicubic, centre
// crop, rescale by 1/255, normalise with the mean and std, channels first. Settings come from the vision tower's
// preprocessor_config.json. LLaVA-1.5's image_aspect_ratio "pad" first pastes the image centred on a square of the
// mean colour (`expand2square`).
import { readFileSync } from 'node:fs';
import type { RgbImage } from './decode.js';
import { resizeBicubic } from './resize.js';

/** Normalised pixels, channels first: data[(c * H + y) * W + x]. */
export interface PixelValues {
  data: Float32Array;
  shape: [3, number, number];
}

export type AspectRatio = 'pad' | 'square';

type SizeJson = number | { shortest_edge?: number; height?: number; width?: number };

/** The fields of preprocessor_config.json this processor reads (unknown ones are ignored, as transformers does). */
export interface PreprocessorConfig {
  do_resize?: boolean;
  size?: SizeJson;
  resample?: number;
  do_center_crop?: boolean;
  crop_size?: SizeJson;
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: number[];
  image_std?: number[];
  do_convert_rgb?: boolean;
}

const PIL_BICUBIC = 3;
// openai/clip-vit-large-patch14(-336): the processor defaults.
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

export class ClipImageProcessor {
  readonly doResize: boolean;
  /** Either the shortest edge or an exact height/width. */
  readonly size: { shortestEdge: number } | { height: number; width: number };
  readonly doCenterCrop: boolean;
  readonly cropSize: { height: number; width: number };
  readonly doRescale: boolean;
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  readonly mean: number[];
  readonly std: number[];

  static fromFile(path: string): ClipImageProcessor {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`image processor: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return new ClipImageProcessor(json as PreprocessorConfig, path);
  }

  constructor(
    config: PreprocessorConfig = { size: { shortest_edge: 224 }, crop_size: 224 },
    source = 'preprocessor config',
  ) {
    const fail = (what: string) => new Error(`image processor (${source}): ${what}`);
    if ((config.resample ?? PIL_BICUBIC) !== PIL_BICUBIC)
      throw fail(`resample ${config.resample} is not supported (only 3, PIL bicubic, which CLIP uses)`);
    this.doResize = config.do_resize ?? true;
    const size = config.size ?? 224;
    // An int size means the shortest edge for CLIP (transformers: get_size_dict(size, default_to_square=False)).
    if (typeof size === 'number') this.size = { shortestEdge: size };
    else if (size.shortest_edge !== undefined) this.size = { shortestEdge: size.shortest_edge };
    else if (size.height !== undefined && size.width !== undefined)
      this.size = { height: size.height, width: size.width };
    else throw fail(`size ${JSON.stringify(size)} needs shortest_edge or height and width`);
    const crop = config.crop_size ?? 224;
    this.cropSize =
      typeof crop === 'number'
        ? { height: crop, width: crop }
        : { height: crop.height ?? NaN, width: crop.width ?? NaN };
    if (!(this.cropSize.height > 0 && this.cropSize.width > 0))
      throw fail(`crop_size ${JSON.stringify(crop)} needs a positive height and width`);
    this.doCenterCrop = config.do_center_crop ?? true;
    this.doRescale = config.do_rescale ?? true;
    this.rescaleFactor = config.rescale_factor ?? 1 / 255;
    this.doNormalize = config.do_normalize ?? true;
    this.mean = config.image_mean ?? CLIP_MEAN;
    this.std = config.image_std ?? CLIP_STD;
    if (this.mean.length !== 3 || this.std.length !== 3) throw fail('image_mean and image_std need 3 values');
  }

  /** The (height, width) every output has: the crop size, or the resize target without a crop. */
  get outputSize(): { height: number; width: number } {
    if (this.doCenterCrop) return this.cropSize;
    if ('height' in this.size) return this.size;
    throw new Error('image processor: outputs vary in size without a centre crop');
  }

  /** The zero image the reference gives a text-only sample in a multimodal batch. */
  zeros(): PixelValues {
    const { height, width } = this.outputSize;
    return { data: new Float32Array(3 * height * width), shape: [3, height, width] };
  }

  /** `image_aspect_ratio` 'pad' (LLaVA-1.5) squares the image first; 'square' (the default) crops the long side. */
  preprocess(image: RgbImage, aspectRatio: AspectRatio = 'square'): PixelValues {
    let img =
      aspectRatio === 'pad'
        ? expandToSquare(image, this.mean.map((m) => Math.trunc(m * 255)) as [number, number, number])
        : image;
    if (this.doResize) img = resizeBicubic(img, ...this.resizeTarget(img));
    if (this.doCenterCrop) img = centerCrop(img, this.cropSize.height, this.cropSize.width);
    return this.toPixelValues(img);
  }

  /** transformers' get_resize_output_image_size: the long edge is int(shortest * long / short), truncated. */
  private resizeTarget(img: RgbImage): [width: number, height: number] {
    if ('height' in this.size) return [this.size.width, this.size.height];
    const s = this.size.shortestEdge;
    if (img.width <= img.height) return [s, Math.trunc((s * img.height) / img.width)];
    return [Math.trunc((s * img.width) / img.height), s];
  }

  /** Rescale (uint8 x factor in float64, stored as float32) then (x - mean) / std in float32, as numpy computes it. */
  private toPixelValues(img: RgbImage): PixelValues {
    const { width: W, height: H } = img;
    const out = new Float32Array(3 * H * W);
    const f = Math.fround;
    for (let c = 0; c < 3; c++) {
      const mean = f(this.mean[c]!);
      const std = f(this.std[c]!);
      // All 256 possible outputs of this channel, computed once.
      const lut = new Float32Array(256);
      for (let v = 0; v < 256; v++) {
        let x = this.doRescale ? f(v * this.rescaleFactor) : v;
        if (this.doNormalize) x = f(f(x - mean) / std);
        lut[v] = x;
      }
      const plane = c * H * W;
      for (let i = 0; i < H * W; i++) out[plane + i] = lut[img.data[i * 3 + c]!]!;
    }
    return { data: out, shape: [3, H, W] };
  }
}

/** LLaVA's expand2square: a max(W,H) square of `background`, the image pasted at floor-centred offsets. */
export function expandToSquare(img: RgbImage, background: [number, number, number]): RgbImage {
  if (img.width === img.height) return img;
  const side = Math.max(img.width, img.height);
  const data = new Uint8Array(side * side * 3);
  for (let x = 0; x < side; x++) data.set(background, x * 3);
  for (let y = 1; y < side; y++) data.copyWithin(y * side * 3, 0, side * 3);
  const x0 = Math.floor((side - img.width) / 2);
  const y0 = Math.floor((side - img.height) / 2);
  for (let y = 0; y < img.height; y++) {
    data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((y0 + y) * side + x0) * 3);
  }
  return { data, width: side, height: side };
}

/** transformers' center_crop: offsets floor((H - h) / 2), floor((W - w) / 2). */
export function centerCrop(img: RgbImage, height: number, width: number): RgbImage {
  if (img.height < height || img.width < width) {
    throw new Error(
      `centre crop ${width}x${height} is larger than the resized image ${img.width}x${img.height}; check size/crop_size in preprocessor_config.json`,
    );
  }
  if (img.height === height && img.width === width) return img;
  const top = Math.floor((img.height - height) / 2);
  const left = Math.floor((img.width - width) / 2);
  const data = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * 3;
    data.set(img.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { data, width, height };
}
