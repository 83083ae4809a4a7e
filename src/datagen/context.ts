// The "caps" context a text-only model sees instead of the image (spec §2.2): the COCO captions,
// one per line, then (for the box-aware prompt types) a blank line and one line per object,
// `<category>: [x1, y1, x2, y2]`, coordinates normalised to [0, 1] and printed as Python prints a
// list of floats rounded with `round(v, 3)`.

/** One image's context: the unit of work of the data engine. */
export interface ImageContext {
  /** Record id, e.g. the zero-padded 12-digit COCO id "000000033471". */
  id: string;
  /** Image path relative to the training image folder, e.g. "000000033471.jpg". */
  image: string;
  captions: string[];
  /** Boxes as normalised [x1, y1, x2, y2] (top-left, bottom-right), already rounded. */
  instances: { category: string; bbox: [number, number, number, number] }[];
}

/**
 * Python's `round(x, 3)`: the float nearest the exact binary value rounded to 3 decimals, exact
 * ties to even. `toFixed` already rounds the exact binary value, but breaks ties away from zero.
 * An exact tie x = (2k+1)/2000 is a binary float only when x = j/16 with j odd (2000 = 16 * 125).
 */
export function roundPython3(x: number): number {
  const sixteenths = x * 16; // exact: scaling by a power of two
  if (Number.isInteger(sixteenths) && Math.abs(sixteenths) % 2 === 1) {
    const down = Math.floor(x * 1000); // x * 1000 = j * 62.5, exact
    return (down % 2 === 0 ? down : down + 1) / 1000;
  }
  return Number(x.toFixed(3));
}

/** Python's `repr(float)`: shortest round-trip digits, always a decimal point or an exponent. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(expText);
  if (exponent < -4 || exponent >= 16) {
    // Python writes at least two exponent digits and an explicit sign: 1e-05, 1.5e+16.
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const text = x.toFixed(Math.max(0, (mantissa.split('.')[1]?.length ?? 0) - exponent));
  return text.includes('.') ? text : `${text}.0`;
}

/**
 * COCO pixel box [x, y, w, h] on a W x H image -> normalised [x1, y1, x2, y2], each rounded with
 * Python's round(v, 3). x is divided by the width and y by the height (spec §2.2: inferred, the
 * reference's generation script is not public).
 */
export function cocoBoxToNormalized(
  bbox: readonly number[],
  width: number,
  height: number,
): [number, number, number, number] {
  const [x, y, w, h] = bbox as [number, number, number, number];
  return [x / width, y / height, (x + w) / width, (y + h) / height].map(roundPython3) as [
    number,
    number,
    number,
    number,
  ];
}

/**
 * The context text. `withBoxes` is false for the conversation type (its few-shot examples show
 * captions only). An image without boxes renders as its captions alone, without the blank line.
 */
export function renderContext(context: ImageContext, withBoxes: boolean): string {
  const captions = context.captions.join('\n');
  if (!withBoxes || context.instances.length === 0) return captions;
  const boxes = context.instances.map(({ category, bbox }) => `${category}: [${bbox.map(pythonFloatRepr).join(', ')}]`);
  return `${captions}\n\n${boxes.join('\n')}`;
}
