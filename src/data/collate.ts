// Batch collation as the reference's DataCollatorForSupervisedDataset (spec §4.9): pad input_ids with the pad id and
// labels with IGNORE_INDEX, truncate both to model_max_length, attention_mask = input_ids != pad id (so a real
// `<unk>` is masked too when pad = unk, as in the reference), and stack the images. Plain typed arrays with shapes;
// `toTensors` turns them into tensors.
import { IGNORE_INDEX } from '../text/image-token.js';
import type { PixelValues } from '../vision/clip-processor.js';

export interface Example {
  inputIds: ArrayLike<number>;
  labels: ArrayLike<number>;
  /** [3, H, W]; a text-only sample of a multimodal run carries a zero image, as the reference does. */
  pixelValues?: PixelValues | null;
}

export interface Batch {
  /** [B, T] int64 */
  inputIds: BigInt64Array;
  /** [B, T] int64 */
  labels: BigInt64Array;
  /** [B, T] bool as 0/1 */
  attentionMask: Uint8Array;
  shape: [number, number];
  /** [N, 3, H, W] float32, one per example that has pixel values; null when none has. */
  pixelValues: Float32Array | null;
  pixelShape: [number, number, number, number] | null;
}

export interface CollateOptions {
  padTokenId: number;
  /** model_max_length: longer sequences are cut after padding, as the reference does. */
  maxLength: number;
  /** right (training, the reference) or left (batched generation). */
  paddingSide?: 'right' | 'left';
}

export function collate(examples: readonly Example[], options: CollateOptions): Batch {
  if (examples.length === 0) throw new Error('collate: empty batch');
  const side = options.paddingSide ?? 'right';
  examples.forEach((e, i) => {
    if (e.inputIds.length !== e.labels.length) {
      throw new Error(`collate: example ${i} has ${e.inputIds.length} input ids but ${e.labels.length} labels`);
    }
  });
  const longest = Math.max(...examples.map((e) => e.inputIds.length));
  const T = Math.min(longest, options.maxLength);
  const B = examples.length;
  const inputIds = new BigInt64Array(B * T).fill(BigInt(options.padTokenId));
  const labels = new BigInt64Array(B * T).fill(BigInt(IGNORE_INDEX));
  const attentionMask = new Uint8Array(B * T);
  examples.forEach((e, b) => {
    // The padded row is [ids, pad...] or [pad..., ids] at the longest length, then cut to T from the left edge.
    const start = side === 'right' ? 0 : longest - e.inputIds.length;
    for (let k = 0; k < e.inputIds.length; k++) {
      const t = start + k;
      if (t >= T) break;
      inputIds[b * T + t] = BigInt(e.inputIds[k]!);
      labels[b * T + t] = BigInt(e.labels[k]!);
    }
  });
  const pad = BigInt(options.padTokenId);
  for (let i = 0; i < B * T; i++) attentionMask[i] = inputIds[i] !== pad ? 1 : 0;
  return { inputIds, labels, attentionMask, shape: [B, T], ...stackImages(examples) };
}

function stackImages(examples: readonly Example[]): Pick<Batch, 'pixelValues' | 'pixelShape'> {
  const images = examples.map((e) => e.pixelValues).filter((p): p is PixelValues => p !== null && p !== undefined);
  if (images.length === 0) return { pixelValues: null, pixelShape: null };
  const [c, h, w] = images[0]!.shape;
  images.forEach((p, i) => {
    if (p.shape[0] !== c || p.shape[1] !== h || p.shape[2] !== w) {
      throw new Error(
        `collate: image ${i} is ${p.shape.join('x')} but image 0 is ${c}x${h}x${w}; all must match to stack`,
      );
    }
  });
  const size = c * h * w;
  const pixelValues = new Float32Array(images.length * size);
  images.forEach((p, i) => pixelValues.set(p.data, i * size));
  return { pixelValues, pixelShape: [images.length, c, h, w] };
}
