// Making tensors: from typed arrays (sharing their memory, as torch.from_numpy) and the
// factory functions. Random factories draw from libtorch's global generator: manualSeed(n)
// makes every one of them reproducible.
import { aten } from './aten.js';
import { carries, dtypeCode, inferDType, type DType, type TypedArray } from './dtype.js';
import { native, type Handle } from './native.js';
import { Tensor } from './tensor.js';

export type TensorOptions = { dtype?: DType; device?: string; requiresGrad?: boolean };

const op = {
  zeros: aten('zeros'),
  ones: aten('ones'),
  full: aten('full'),
  empty: aten('empty', 'memory_format'),
  arange: aten('arange', 'start_step'),
  randn: aten('randn'),
  rand: aten('rand'),
  randint: aten('randint', 'low'),
  zerosLike: aten('zeros_like'),
  onesLike: aten('ones_like'),
  fullLike: aten('full_like'),
  randnLike: aten('randn_like'),
  multinomial: aten('multinomial'),
};

/**
 * A tensor over `data` (shared, not copied: later writes to the array show in the tensor).
 * shape defaults to [data.length]; dtype defaults to the array's own (Float32Array -> float32,
 * BigInt64Array -> int64, ...). Uint16Array needs 'float16' or 'bfloat16', Uint8Array may be 'bool'.
 * A dtype of another element size converts (a copy). number[] is copied into float32 unless a dtype is given.
 */
export function tensor(data: TypedArray | number[], shape?: number[], dtype?: DType): Tensor {
  if (Array.isArray(data)) return tensor(Float64Array.from(data), shape, dtype ?? 'float32');
  if (dtype !== undefined) dtypeCode(dtype); // an unknown name fails here, by name
  const natural = dtype !== undefined && carries(data, dtype) ? dtype : inferDType(data);
  const dims = shape ?? [data.length];
  for (const d of dims)
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`tensor: shape [${dims}] has an invalid dimension ${d}`);
  const t = new Tensor(native.fromTypedArray(data, dims, dtypeCode(natural)));
  if (dtype === undefined || dtype === natural) return t;
  const converted = t.to(dtype);
  t.dispose();
  return converted;
}

function factory(handle: Handle, options: TensorOptions): Tensor {
  const t = new Tensor(handle);
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

let defaultDevice: string | undefined;

/**
 * Runs fn with factories placing tensors on `device` unless told otherwise, as
 * `with torch.device(...)`. With 'meta', a 7B model is built without allocating or
 * initialising its weights, which the checkpoint loader then assigns.
 */
export function withDevice<T>(device: string, fn: () => T): T {
  const previous = defaultDevice;
  defaultDevice = device;
  try {
    return fn();
  } finally {
    defaultDevice = previous;
  }
}

const dt = (o: TensorOptions) => dtypeCode(o.dtype ?? 'float32');
const dev = (o: TensorOptions) => o.device ?? defaultDevice;

export const zeros = (shape: number[], o: TensorOptions = {}) =>
  factory(op.zeros(shape, dt(o), undefined, dev(o)) as Handle, o);
export const ones = (shape: number[], o: TensorOptions = {}) =>
  factory(op.ones(shape, dt(o), undefined, dev(o)) as Handle, o);
export const empty = (shape: number[], o: TensorOptions = {}) =>
  factory(op.empty(shape, dt(o), undefined, dev(o)) as Handle, o);
export const full = (shape: number[], value: number | boolean, o: TensorOptions = {}) =>
  factory(
    op.full(
      shape,
      value,
      dtypeCode(o.dtype ?? (typeof value === 'boolean' ? 'bool' : 'float32')),
      undefined,
      dev(o),
    ) as Handle,
    o,
  );
/** [start, end) by step; int64 unless a dtype is given (PyTorch infers float from float bounds, JS cannot tell). */
export const arange = (start: number, end: number, step = 1, o: TensorOptions = {}) =>
  factory(op.arange(start, end, step, dtypeCode(o.dtype ?? 'int64'), undefined, dev(o)) as Handle, o);
export const randn = (shape: number[], o: TensorOptions = {}) =>
  factory(op.randn(shape, dt(o), undefined, dev(o)) as Handle, o);
export const rand = (shape: number[], o: TensorOptions = {}) =>
  factory(op.rand(shape, dt(o), undefined, dev(o)) as Handle, o);
/** Integers uniform in [low, high), int64 by default. */
export const randint = (low: number, high: number, shape: number[], o: TensorOptions = {}) =>
  factory(op.randint(low, high, shape, dtypeCode(o.dtype ?? 'int64'), undefined, dev(o)) as Handle, o);
export const zerosLike = (t: Tensor) => new Tensor(op.zerosLike(t.handle) as Handle);
export const onesLike = (t: Tensor) => new Tensor(op.onesLike(t.handle) as Handle);
export const fullLike = (t: Tensor, value: number) => new Tensor(op.fullLike(t.handle, value) as Handle);
export const randnLike = (t: Tensor) => new Tensor(op.randnLike(t.handle) as Handle);
/** Draws `n` indices per row from the (unnormalised) probabilities in `probs` [..., K]. */
export const multinomial = (probs: Tensor, n: number, replacement = false) =>
  new Tensor(op.multinomial(probs.handle, n, replacement) as Handle);

/** Seeds libtorch's global generator (randn, rand, dropout, multinomial, ...). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}
