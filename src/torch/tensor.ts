// The Tensor: a handle to one libtorch tensor plus the methods that models and optimizers
// call. Every method is one ATen operator through the dispatcher, so autograd, broadcasting
// and type promotion behave exactly as in PyTorch. Dims may be negative, as in PyTorch.
import { aten } from './aten.js';
import { dtypeCode, dtypeFromCode, isDType, typedArrayFor, type DType, type TypedArray } from './dtype.js';
import { native, type Handle, type OpResult } from './native.js';
import { track } from './scope.js';

const op = {
  add: aten('add', 'Tensor'),
  addScalar: aten('add', 'Scalar'),
  sub: aten('sub', 'Tensor'),
  subScalar: aten('sub', 'Scalar'),
  mul: aten('mul', 'Tensor'),
  mulScalar: aten('mul', 'Scalar'),
  div: aten('div', 'Tensor'),
  divScalar: aten('div', 'Scalar'),
  neg: aten('neg'),
  pow: aten('pow', 'Tensor_Scalar'),
  powTensor: aten('pow', 'Tensor_Tensor'),
  exp: aten('exp'),
  log: aten('log'),
  sqrt: aten('sqrt'),
  rsqrt: aten('rsqrt'),
  abs: aten('abs'),
  sigmoid: aten('sigmoid'),
  tanh: aten('tanh'),
  relu: aten('relu'),
  sin: aten('sin'),
  cos: aten('cos'),
  reciprocal: aten('reciprocal'),
  eq: aten('eq', 'Tensor'),
  eqScalar: aten('eq', 'Scalar'),
  ne: aten('ne', 'Tensor'),
  neScalar: aten('ne', 'Scalar'),
  lt: aten('lt', 'Tensor'),
  ltScalar: aten('lt', 'Scalar'),
  le: aten('le', 'Tensor'),
  leScalar: aten('le', 'Scalar'),
  gt: aten('gt', 'Tensor'),
  gtScalar: aten('gt', 'Scalar'),
  ge: aten('ge', 'Tensor'),
  geScalar: aten('ge', 'Scalar'),
  logicalNot: aten('logical_not'),
  logicalAnd: aten('logical_and'),
  logicalOr: aten('logical_or'),
  maximum: aten('maximum'),
  minimum: aten('minimum'),
  clamp: aten('clamp'),
  matmul: aten('matmul'),
  bmm: aten('bmm'),
  sumAll: aten('sum'),
  sum: aten('sum', 'dim_IntList'),
  meanAll: aten('mean'),
  mean: aten('mean', 'dim'),
  maxAll: aten('max'),
  maxDim: aten('max', 'dim'),
  minAll: aten('min'),
  minDim: aten('min', 'dim'),
  norm: aten('norm', 'Scalar'),
  argmax: aten('argmax'),
  argmin: aten('argmin'),
  topk: aten('topk'),
  sort: aten('sort'),
  cumsum: aten('cumsum'),
  softmax: aten('softmax', 'int'),
  logSoftmax: aten('log_softmax', 'int'),
  view: aten('view'),
  reshape: aten('reshape'),
  permute: aten('permute'),
  transpose: aten('transpose', 'int'),
  unsqueeze: aten('unsqueeze'),
  squeeze: aten('squeeze', 'dim'),
  squeezeAll: aten('squeeze'),
  flatten: aten('flatten', 'using_ints'),
  expand: aten('expand'),
  repeat: aten('repeat'),
  narrow: aten('narrow'),
  select: aten('select', 'int'),
  slice: aten('slice', 'Tensor'),
  split: aten('split', 'Tensor'),
  splitWithSizes: aten('split_with_sizes'),
  chunk: aten('chunk'),
  indexSelect: aten('index_select'),
  index: aten('index', 'Tensor'),
  gather: aten('gather'),
  scatter: aten('scatter', 'src'),
  scatterValue: aten('scatter', 'value'),
  scatterAdd: aten('scatter_add'),
  maskedFill: aten('masked_fill', 'Scalar'),
  maskedFillTensor: aten('masked_fill', 'Tensor'),
  triu: aten('triu'),
  tril: aten('tril'),
  contiguous: aten('contiguous'),
  clone: aten('clone'),
  detach: aten('detach'),
  toDtype: aten('to', 'dtype'),
  toDevice: aten('to', 'device'),
  add_: aten('add_', 'Tensor'),
  addScalar_: aten('add_', 'Scalar'),
  mul_: aten('mul_', 'Tensor'),
  mulScalar_: aten('mul_', 'Scalar'),
  div_: aten('div_', 'Tensor'),
  divScalar_: aten('div_', 'Scalar'),
  addcmul_: aten('addcmul_'),
  addcdiv_: aten('addcdiv_'),
  lerp_: aten('lerp_', 'Scalar'),
  maskedFill_: aten('masked_fill_', 'Scalar'),
  copy_: aten('copy_'),
  zero_: aten('zero_'),
  fill_: aten('fill_', 'Scalar'),
  clamp_: aten('clamp_'),
  uniform_: aten('uniform_'),
  normal_: aten('normal_'),
};

type Scalar = number | boolean;
const wrap = (r: OpResult): Tensor => new Tensor(r as Handle);
const wrapAll = (r: OpResult): Tensor[] => (r as Handle[]).map((h) => new Tensor(h));

export class Tensor {
  readonly handle: Handle;
  #shape?: readonly number[];

  constructor(handle: Handle) {
    this.handle = handle;
    track(this);
  }

  get [Symbol.toStringTag](): string {
    return 'Tensor';
  }

  // ---- metadata and data -------------------------------------------------------------
  get shape(): number[] {
    return (this.#shape ??= Object.freeze(native.shapeOf(this.handle))) as number[];
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return dtypeFromCode(native.dtypeOf(this.handle));
  }
  get device(): string {
    return native.deviceOf(this.handle);
  }
  size(dim: number): number {
    return this.shape[dim < 0 ? dim + this.ndim : dim]!;
  }

  /** A copy of the elements in row-major order (bf16/f16 as raw Uint16 bits, bool as Uint8). */
  toTypedArray(): TypedArray {
    return typedArrayFor(this.dtype, native.toArrayBuffer(this.handle));
  }
  /** The value of a one-element tensor. */
  item(): number {
    return native.itemOf(this.handle);
  }
  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype}, device=${this.device})`;
  }

  /** Frees this handle's reference now; the memory goes when no other tensor shares it. */
  dispose(): void {
    native.dispose(this.handle);
  }
  get isDisposed(): boolean {
    return native.isDisposed(this.handle);
  }

  // ---- autograd ----------------------------------------------------------------------
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  set requiresGrad(value: boolean) {
    native.requiresGrad(this.handle, value);
  }
  requiresGrad_(value = true): this {
    native.requiresGrad(this.handle, value);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** The accumulated gradient, as a new handle sharing it; undefined before any backward. */
  get grad(): Tensor | undefined {
    const g = native.gradOf(this.handle);
    return g === undefined ? undefined : new Tensor(g);
  }
  set grad(g: Tensor | undefined) {
    native.setGrad(this.handle, g?.handle);
  }
  retainGrad(): this {
    native.retainGrad(this.handle);
    return this;
  }
  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    const create = options.createGraph ?? false;
    native.backward([this.handle], gradient ? [gradient.handle] : undefined, options.retainGraph ?? create, create);
  }
  detach(): Tensor {
    return wrap(op.detach(this.handle));
  }
  /**
   * Makes this tensor hold `src`'s data (any dtype or device) as a fresh leaf that keeps its
   * requiresGrad, while every reference to this Tensor stays valid: loading a checkpoint into a
   * model built on 'meta', casting a model in place.
   */
  assign(src: Tensor): this {
    native.assign(this.handle, src.handle);
    this.#shape = undefined;
    return this;
  }

  // ---- conversion --------------------------------------------------------------------
  /** Casts to a dtype ('float32', 'bfloat16', ...) or moves to a device ('cpu', 'cuda', 'cuda:1'). */
  to(target: DType | string): Tensor {
    return isDType(target)
      ? wrap(op.toDtype(this.handle, dtypeCode(target)))
      : wrap(op.toDevice(this.handle, target, dtypeCode(this.dtype)));
  }
  contiguous(): Tensor {
    return wrap(op.contiguous(this.handle));
  }
  clone(): Tensor {
    return wrap(op.clone(this.handle));
  }

  // ---- elementwise -------------------------------------------------------------------
  add(other: Tensor | Scalar, alpha = 1): Tensor {
    return wrap(
      other instanceof Tensor ? op.add(this.handle, other.handle, alpha) : op.addScalar(this.handle, other, alpha),
    );
  }
  sub(other: Tensor | Scalar, alpha = 1): Tensor {
    return wrap(
      other instanceof Tensor ? op.sub(this.handle, other.handle, alpha) : op.subScalar(this.handle, other, alpha),
    );
  }
  mul(other: Tensor | Scalar): Tensor {
    return wrap(other instanceof Tensor ? op.mul(this.handle, other.handle) : op.mulScalar(this.handle, other));
  }
  div(other: Tensor | Scalar): Tensor {
    return wrap(other instanceof Tensor ? op.div(this.handle, other.handle) : op.divScalar(this.handle, other));
  }
  pow(exponent: Tensor | number): Tensor {
    return wrap(
      exponent instanceof Tensor ? op.powTensor(this.handle, exponent.handle) : op.pow(this.handle, exponent),
    );
  }
  neg(): Tensor {
    return wrap(op.neg(this.handle));
  }
  exp(): Tensor {
    return wrap(op.exp(this.handle));
  }
  log(): Tensor {
    return wrap(op.log(this.handle));
  }
  sqrt(): Tensor {
    return wrap(op.sqrt(this.handle));
  }
  rsqrt(): Tensor {
    return wrap(op.rsqrt(this.handle));
  }
  abs(): Tensor {
    return wrap(op.abs(this.handle));
  }
  sigmoid(): Tensor {
    return wrap(op.sigmoid(this.handle));
  }
  tanh(): Tensor {
    return wrap(op.tanh(this.handle));
  }
  relu(): Tensor {
    return wrap(op.relu(this.handle));
  }
  sin(): Tensor {
    return wrap(op.sin(this.handle));
  }
  cos(): Tensor {
    return wrap(op.cos(this.handle));
  }
  reciprocal(): Tensor {
    return wrap(op.reciprocal(this.handle));
  }
  maximum(other: Tensor): Tensor {
    return wrap(op.maximum(this.handle, other.handle));
  }
  minimum(other: Tensor): Tensor {
    return wrap(op.minimum(this.handle, other.handle));
  }
  clamp(min?: number, max?: number): Tensor {
    return wrap(op.clamp(this.handle, min, max));
  }

  eq(other: Tensor | Scalar): Tensor {
    return wrap(other instanceof Tensor ? op.eq(this.handle, other.handle) : op.eqScalar(this.handle, other));
  }
  ne(other: Tensor | Scalar): Tensor {
    return wrap(other instanceof Tensor ? op.ne(this.handle, other.handle) : op.neScalar(this.handle, other));
  }
  lt(other: Tensor | Scalar): Tensor {
    return wrap(other instanceof Tensor ? op.lt(this.handle, other.handle) : op.ltScalar(this.handle, other));
  }
  le(other: Tensor | Scalar): Tensor {
    return wrap(other instanceof Tensor ? op.le(this.handle, other.handle) : op.leScalar(this.handle, other));
  }
  gt(other: Tensor | Scalar): Tensor {
    return wrap(other instanceof Tensor ? op.gt(this.handle, other.handle) : op.gtScalar(this.handle, other));
  }
  ge(other: Tensor | Scalar): Tensor {
    return wrap(other instanceof Tensor ? op.ge(this.handle, other.handle) : op.geScalar(this.handle, other));
  }
  logicalNot(): Tensor {
    return wrap(op.logicalNot(this.handle));
  }
  logicalAnd(other: Tensor): Tensor {
    return wrap(op.logicalAnd(this.handle, other.handle));
  }
  logicalOr(other: Tensor): Tensor {
    return wrap(op.logicalOr(this.handle, other.handle));
  }

  // ---- linear algebra and reductions ------------------------------------------------
  matmul(other: Tensor): Tensor {
    return wrap(op.matmul(this.handle, other.handle));
  }
  bmm(other: Tensor): Tensor {
    return wrap(op.bmm(this.handle, other.handle));
  }
  sum(dim?: number | number[], keepdim = false): Tensor {
    return wrap(dim === undefined ? op.sumAll(this.handle) : op.sum(this.handle, dim, keepdim));
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return wrap(dim === undefined ? op.meanAll(this.handle) : op.mean(this.handle, dim, keepdim));
  }
  /** The largest element, or with `dim` the largest values and their indices along it. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return wrap(op.maxAll(this.handle));
    const [values, indices] = wrapAll(op.maxDim(this.handle, dim, keepdim));
    return { values: values!, indices: indices! };
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return wrap(op.minAll(this.handle));
    const [values, indices] = wrapAll(op.minDim(this.handle, dim, keepdim));
    return { values: values!, indices: indices! };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return wrap(op.argmax(this.handle, dim, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return wrap(op.argmin(this.handle, dim, keepdim));
  }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [values, indices] = wrapAll(op.topk(this.handle, k, dim, largest, sorted));
    return { values: values!, indices: indices! };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = wrapAll(op.sort(this.handle, dim, descending));
    return { values: values!, indices: indices! };
  }
  /** The p-norm over all elements (p = 2: Euclidean). */
  norm(p = 2): Tensor {
    return wrap(op.norm(this.handle, p));
  }
  cumsum(dim: number): Tensor {
    return wrap(op.cumsum(this.handle, dim));
  }
  softmax(dim: number): Tensor {
    return wrap(op.softmax(this.handle, dim));
  }
  logSoftmax(dim: number): Tensor {
    return wrap(op.logSoftmax(this.handle, dim));
  }

  // ---- shape and indexing ------------------------------------------------------------
  view(...shape: number[]): Tensor {
    return wrap(op.view(this.handle, shape));
  }
  reshape(...shape: number[]): Tensor {
    return wrap(op.reshape(this.handle, shape));
  }
  permute(...dims: number[]): Tensor {
    return wrap(op.permute(this.handle, dims));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return wrap(op.transpose(this.handle, dim0, dim1));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(op.unsqueeze(this.handle, dim));
  }
  squeeze(dim?: number): Tensor {
    return wrap(dim === undefined ? op.squeezeAll(this.handle) : op.squeeze(this.handle, dim));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(op.flatten(this.handle, startDim, endDim));
  }
  expand(...shape: number[]): Tensor {
    return wrap(op.expand(this.handle, shape));
  }
  repeat(...times: number[]): Tensor {
    return wrap(op.repeat(this.handle, times));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(op.narrow(this.handle, dim, start, length));
  }
  select(dim: number, index: number): Tensor {
    return wrap(op.select(this.handle, dim, index));
  }
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return wrap(op.slice(this.handle, dim, start, end, step));
  }
  /** Pieces of `size` along dim (the last may be smaller), or pieces of the given sizes. */
  split(size: number | number[], dim = 0): Tensor[] {
    return wrapAll(Array.isArray(size) ? op.splitWithSizes(this.handle, size, dim) : op.split(this.handle, size, dim));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return wrapAll(op.chunk(this.handle, chunks, dim));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(op.indexSelect(this.handle, dim, index.handle));
  }
  /** Advanced indexing, as `t[i0, i1, ...]` with index tensors; null keeps a dim whole. */
  index(indices: (Tensor | null)[]): Tensor {
    return wrap(
      op.index(
        this.handle,
        indices.map((t) => t?.handle ?? null),
      ),
    );
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(op.gather(this.handle, dim, index.handle));
  }
  scatter(dim: number, index: Tensor, src: Tensor | Scalar): Tensor {
    return wrap(
      src instanceof Tensor
        ? op.scatter(this.handle, dim, index.handle, src.handle)
        : op.scatterValue(this.handle, dim, index.handle, src),
    );
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return wrap(op.scatterAdd(this.handle, dim, index.handle, src.handle));
  }
  maskedFill(mask: Tensor, value: Tensor | Scalar): Tensor {
    return wrap(
      value instanceof Tensor
        ? op.maskedFillTensor(this.handle, mask.handle, value.handle)
        : op.maskedFill(this.handle, mask.handle, value),
    );
  }
  triu(diagonal = 0): Tensor {
    return wrap(op.triu(this.handle, diagonal));
  }
  tril(diagonal = 0): Tensor {
    return wrap(op.tril(this.handle, diagonal));
  }

  // ---- in place (optimizers, initialisation); each returns this ------------------------
  add_(other: Tensor | Scalar, alpha = 1): this {
    return this.#inPlace(
      other instanceof Tensor ? op.add_(this.handle, other.handle, alpha) : op.addScalar_(this.handle, other, alpha),
    );
  }
  mul_(other: Tensor | Scalar): this {
    return this.#inPlace(
      other instanceof Tensor ? op.mul_(this.handle, other.handle) : op.mulScalar_(this.handle, other),
    );
  }
  div_(other: Tensor | Scalar): this {
    return this.#inPlace(
      other instanceof Tensor ? op.div_(this.handle, other.handle) : op.divScalar_(this.handle, other),
    );
  }
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    return this.#inPlace(op.addcmul_(this.handle, t1.handle, t2.handle, value));
  }
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    return this.#inPlace(op.addcdiv_(this.handle, t1.handle, t2.handle, value));
  }
  lerp_(end: Tensor, weight: number): this {
    return this.#inPlace(op.lerp_(this.handle, end.handle, weight));
  }
  maskedFill_(mask: Tensor, value: Scalar): this {
    return this.#inPlace(op.maskedFill_(this.handle, mask.handle, value));
  }
  copy_(src: Tensor): this {
    return this.#inPlace(op.copy_(this.handle, src.handle));
  }
  zero_(): this {
    return this.#inPlace(op.zero_(this.handle));
  }
  fill_(value: Scalar): this {
    return this.#inPlace(op.fill_(this.handle, value));
  }
  clamp_(min?: number, max?: number): this {
    return this.#inPlace(op.clamp_(this.handle, min, max));
  }
  /** Fills with U(low, high) from the global generator (see manualSeed). */
  uniform_(low = 0, high = 1): this {
    return this.#inPlace(op.uniform_(this.handle, low, high));
  }
  normal_(mean = 0, std = 1): this {
    return this.#inPlace(op.normal_(this.handle, mean, std));
  }

  #inPlace(result: OpResult): this {
    native.dispose(result as Handle); // a second handle to this same tensor
    return this;
  }
}
