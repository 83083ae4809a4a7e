// The sequence layout after the model splices image features in (llava_arch.py
// `prepare_inputs_labels_for_multimodal`; spec §5.4, §10.7): each image id becomes `featuresPerImage` positions
// (576 for CLIP-336 patches) whose labels are IGNORE_INDEX, and the result is cut to tokenizer_model_max_length.
// The collator already cut the ids to model_max_length before expansion; this is the second cut.
import { IGNORE_INDEX, IMAGE_TOKEN_INDEX } from '../text/image-token.js';

export interface ExpandedLayout {
  /** Labels of the spliced sequence: text labels, and IGNORE_INDEX over every image feature. */
  labels: Int32Array;
  /** Start of each image's feature block in the spliced sequence, in image order (a cut block is still listed). */
  imageStarts: number[];
  /** Spliced length before the cut (the cut length is labels.length). */
  fullLength: number;
}

/**
 * One row, padding already removed (the reference drops positions whose attention mask is 0 first).
 * `maxLength` is the config's tokenizer_model_max_length; Infinity when unset.
 */
export function expandImages(
  inputIds: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: { featuresPerImage: number; maxLength?: number; imageTokenId?: number },
): ExpandedLayout {
  if (inputIds.length !== labels.length)
    throw new Error(`expandImages: ${inputIds.length} ids but ${labels.length} labels`);
  const image = options.imageTokenId ?? IMAGE_TOKEN_INDEX;
  const out: number[] = [];
  const imageStarts: number[] = [];
  for (let t = 0; t < inputIds.length; t++) {
    if (inputIds[t] === image) {
      imageStarts.push(out.length);
      for (let k = 0; k < options.featuresPerImage; k++) out.push(IGNORE_INDEX);
    } else {
      out.push(labels[t]!);
    }
  }
  const maxLength = options.maxLength ?? Infinity;
  return {
    labels: Int32Array.from(out.length > maxLength ? out.slice(0, maxLength) : out),
    imageStarts,
    fullLength: out.length,
  };
}
