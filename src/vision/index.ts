// Library entry of the image path (`llava-ts/vision`): decoding with pixel limits, Pillow's bicubic resize and
// CLIP's image processor (LLaVA-1.5's pad-to-square included). Nothing here loads tensors or the native addon.
export {
  decodeImage,
  decodeImageFile,
  DEFAULT_MAX_PIXELS,
  ImageDecodeError,
  type DecodeOptions,
  type RgbImage,
} from './decode.js';
export {
  centerCrop,
  CLIP_MEAN,
  CLIP_STD,
  ClipImageProcessor,
  expandToSquare,
  type AspectRatio,
  type PixelValues,
  type PreprocessorConfig,
} from './clip-processor.js';
export { resizeBicubic } from './resize.js';
