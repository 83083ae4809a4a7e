// The checkpoint loader: builds the model on 'meta' (nothing allocated, nothing drawn from the
// random generator), reads each checkpoint tensor once, straight into its parameter, and in a
// non-strict load materialises only the parameters the checkpoint lacks. A checkpoint never sits
// in memory twice, and a 7B model is never built at random first.
import type { Module } from '../nn/index.js';
import { isFloating, withDevice, type DType } from '../torch/index.js';
import { computeDtypes, type DTypeOption } from './compute-dtype.js';
import type { WeightSource } from './weights.js';

export type LoadOptions = {
  /**
   * Compute dtype of the weights; 'auto' keeps the checkpoint's (transformers' torch_dtype), except
   * float16 on CPU, which computes in float32. Default float32, as transformers.
   */
  dtype?: DTypeOption;
  /** Where the weights go: 'cpu' (default), 'cuda', 'cuda:1'. */
  device?: string;
  /** Throw listing missing and unexpected keys (default); false loads what matches and initialises the rest randomly. */
  strict?: boolean;
  /** Original LLaVA layout: the CLIP folder, when mm_vision_tower does not resolve to one. */
  visionTower?: string;
};

/** One weight source and how its keys map onto the model's (undefined: a key the model ignores on purpose). */
export type KeyedSource = { source: WeightSource; rename: (key: string) => string | undefined };

/** Throws for a dtype the device cannot compute in, before anything is read. */
export function checkLoadOptions(options: LoadOptions, where: string): void {
  computeDtypes(options.dtype ?? 'float32', options.device ?? 'cpu', where);
}

/** Builds `make()` on 'meta' and assigns every tensor that a source's `rename` maps to one of its keys. */
export function loadWeights<M extends Module>(
  make: () => M,
  sources: KeyedSource[],
  options: LoadOptions,
  where: string,
): M {
  const strict = options.strict ?? true;
  const device = options.device ?? 'cpu';
  const computeDtype = computeDtypes(options.dtype ?? 'float32', device, where);
  const model = withDevice('meta', make);
  const own = model.stateDict();
  const found = new Map<string, { source: WeightSource; key: string }>();
  const unexpected: string[] = [];
  for (const { source, rename } of sources) {
    for (const key of source.names()) {
      const name = rename(key);
      if (name === undefined) continue;
      if (own.has(name)) found.set(name, { source, key });
      else unexpected.push(key);
    }
  }
  const missing = [...own.keys()].filter((k) => !found.has(k));
  if (strict && (missing.length || unexpected.length)) {
    throw new Error(
      `${where}: the checkpoint does not match ${model.constructor.name}` +
        (missing.length ? `\n  missing keys (${missing.length}): ${missing.join(', ')}` : '') +
        (unexpected.length ? `\n  unexpected keys (${unexpected.length}): ${unexpected.join(', ')}` : '') +
        '\n  (pass strict: false to load what matches)',
    );
  }
  let loadedDtype: DType | undefined;
  for (const [name, { source, key }] of found) {
    const target = own.get(name)!;
    const loaded = source.readTensor(key);
    if (loaded.shape.join() !== target.shape.join()) {
      loaded.dispose();
      throw new Error(
        `${where}: '${key}' has shape [${loaded.shape}] in the checkpoint but the model expects [${target.shape}]`,
      );
    }
    const dtype = computeDtype(loaded.dtype);
    if (isFloating(dtype)) loadedDtype ??= dtype;
    const cast = loaded.dtype === dtype ? loaded : loaded.to(dtype);
    const placed = device === 'cpu' ? cast : cast.to(device);
    target.assign(placed);
    for (const t of new Set([loaded, cast, placed])) t.dispose();
  }
  // Parameters the checkpoint lacks: initialised as their modules do, in the dtype asked for or,
  // with 'auto', the one the loaded parameters have.
  const missingDtype = options.dtype === 'auto' ? (loadedDtype ?? 'float32') : (options.dtype ?? 'float32');
  if (missing.length) model.materializeParameters(missing, missingDtype, device);
  return model;
}
