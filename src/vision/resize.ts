// Bicubic resize of 8-bit RGB images, computed exactly as Pillow's Resample.c does it (the resizer behind
// transformers' CLIPImageProcessor and so behind LLaVA's pixels): separable, horizontal pass then vertical pass, a
// bicubic kernel with a = -0.5 whose support grows with the reduction factor (antialiasing), weights normalised to
// sum 1 and turned into 22-bit fixed point, and rounding to uint8 after each pass. Neither libvips (sharp) nor
// libtorch match it on upscales (see ../shared/golden/clip_preprocess/README.md).
import type { RgbImage } from './decode.js';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const BICUBIC_SUPPORT = 2;

function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coefficients {
  /** Taps per output pixel (the same for all). */
  ksize: number;
  /** [outSize] first input index and tap count of each output pixel. */
  start: Int32Array;
  count: Int32Array;
  /** [outSize * ksize] fixed-point weights. */
  weights: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the whole input range. */
function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = bicubic((x + xmin - center + 0.5) / filterScale);
      sum += k[x]!;
    }
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? k[x]! / sum : k[x]!;
      weights[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { ksize, start, count, weights };
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
}

/** Resizes interleaved RGB uint8 to width x height with Pillow's BICUBIC (resample=3). */
export function resizeBicubic(image: RgbImage, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`resize: target size must be positive integers, got ${width}x${height}`);
  }
  let current = image;
  if (width !== image.width) current = horizontal(current, width);
  if (height !== image.height) current = vertical(current, height);
  return current;
}

function horizontal(src: RgbImage, outW: number): RgbImage {
  const { ksize, start, count, weights } = coefficients(src.width, outW);
  const data = src.data;
  const out = new Uint8Array(outW * src.height * 3);
  const inRow = src.width * 3;
  for (let y = 0; y < src.height; y++) {
    for (let xx = 0; xx < outW; xx++) {
      let s0 = HALF,
        s1 = HALF,
        s2 = HALF;
      const base = y * inRow + start[xx]! * 3;
      const kb = xx * ksize;
      const n = count[xx]!;
      for (let x = 0; x < n; x++) {
        const w = weights[kb + x]!;
        const p = base + x * 3;
        s0 += data[p]! * w;
        s1 += data[p + 1]! * w;
        s2 += data[p + 2]! * w;
      }
      const o = (y * outW + xx) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return { data: out, width: outW, height: src.height };
}

function vertical(src: RgbImage, outH: number): RgbImage {
  const { ksize, start, count, weights } = coefficients(src.height, outH);
  const data = src.data;
  const row = src.width * 3;
  const out = new Uint8Array(row * outH);
  // One output row at a time, accumulating whole input rows: sequential memory access.
  const acc = new Float64Array(row);
  for (let yy = 0; yy < outH; yy++) {
    acc.fill(HALF);
    for (let y = 0; y < count[yy]!; y++) {
      const w = weights[yy * ksize + y]!;
      const from = (start[yy]! + y) * row;
      for (let i = 0; i < row; i++) acc[i]! += data[from + i]! * w;
    }
    for (let i = 0; i < row; i++) out[yy * row + i] = clip8(acc[i]!);
  }
  return { data: out, width: src.width, height: outH };
}
