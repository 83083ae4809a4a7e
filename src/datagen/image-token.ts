// Where `<image>` goes in the first human turn of an instruction record. The released LLaVA data
// mixes "<image>\n<question>" and "<question>\n<image>" (spec §1.1); training normalises both to
// the prefix form, so the choice only matters for byte-compatibility with a data set's style.

export const IMAGE_TOKEN = '<image>';

export const IMAGE_PLACEMENTS = ['prefix', 'suffix', 'random'] as const;
export type ImagePlacement = (typeof IMAGE_PLACEMENTS)[number];

export function isImagePlacement(value: string): value is ImagePlacement {
  return (IMAGE_PLACEMENTS as readonly string[]).includes(value);
}

/** `random` must be resolved by the caller (seeded) to prefix or suffix before this is called. */
export function placeImageToken(text: string, placement: 'prefix' | 'suffix'): string {
  return placement === 'prefix' ? `${IMAGE_TOKEN}\n${text}` : `${text}\n${IMAGE_TOKEN}`;
}
