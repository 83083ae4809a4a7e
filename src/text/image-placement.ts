// Where `<image>` sits in a turn (spec §1.1, §4.8). The reference (`preprocess_multimodal`) moves it to the front of
// every turn that holds it, as `<image>\n` + the stripped text; the paper's data put it before or after the question
// at random. `first` is the reference; `random` re-draws before/after from a seeded coin; `keep` leaves text as is.
import { DEFAULT_IMAGE_TOKEN } from './image-token.js';

export type ImagePlacement = 'first' | 'random' | 'keep';
export const IMAGE_PLACEMENTS: readonly ImagePlacement[] = ['first', 'random', 'keep'];

export interface Turn {
  from: string;
  value: string;
}

// Python's str.isspace() set for str.strip(): ASCII whitespace, \x1c-\x1f, \x85, \xa0 and the Unicode spaces.
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'gu');

/** Python's `str.strip()` with no argument. */
export function pyStrip(s: string): string {
  return s.replace(STRIP, '');
}

export interface PlacementOptions {
  placement: ImagePlacement;
  /** For `random`: returns true to put the image after the question. Must be seeded per sample to be reproducible. */
  coin?: () => boolean;
  /** mmtag templates wrap the placeholder as `<Image><image></Image>`. */
  mmtag?: boolean;
  /** Legacy `mm_use_im_start_end`: wrap it as `<im_start><image><im_end>`. */
  imStartEnd?: boolean;
}

/** A copy of the turns with every `<image>` turn normalised as the chosen placement says. */
export function placeImage(turns: readonly Turn[], options: PlacementOptions): Turn[] {
  return turns.map((turn) => {
    let value = turn.value;
    if (value.includes(DEFAULT_IMAGE_TOKEN) && options.placement !== 'keep') {
      const text = pyStrip(value.replaceAll(DEFAULT_IMAGE_TOKEN, ''));
      const after = options.placement === 'random' && requireCoin(options)();
      value = pyStrip(after ? `${text}\n${DEFAULT_IMAGE_TOKEN}` : `${DEFAULT_IMAGE_TOKEN}\n${text}`);
      if (options.mmtag) value = value.replaceAll(DEFAULT_IMAGE_TOKEN, `<Image>${DEFAULT_IMAGE_TOKEN}</Image>`);
    }
    if (options.imStartEnd) value = value.replaceAll(DEFAULT_IMAGE_TOKEN, `<im_start>${DEFAULT_IMAGE_TOKEN}<im_end>`);
    return { from: turn.from, value };
  });
}

function requireCoin(options: PlacementOptions): () => boolean {
  if (!options.coin) throw new Error("image placement 'random' needs a seeded coin");
  return options.coin;
}
