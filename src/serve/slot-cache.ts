// One KV cache shared by the requests decoding together (continuous batching). Slot s holds one request's keys and
// values on a common timeline of columns: every active request writes its next token at the same column W, so a
// decode step is one batched forward over rows [0, n). A request's own tokens end at W and start at its `start`
// column; the columns before it are masked out. Joining puts a prefill at [W - P, W) (shifting the others right when
// the prompt is longer than W); leaving moves the last row into the freed slot, so active rows stay 0..n-1.
//
// It is the model's KVCache to LlamaModel (same update/advance protocol) over a view set before each forward:
// beginPrefill (one slot, from its start column) or beginDecode (all active rows, the whole width).
import { arange, keep, noGrad, scope, tensor, zeros, type DType, type Tensor } from '../torch/index.js';
import { KVCache } from '../models/kv-cache.js';
import { typedArrayFor } from '../torch/dtype.js';

export class SlotCache extends KVCache {
  /** Per layer: keys [slots, H_kv, d, capacity] (transposed, as KVCache), values [slots, H_kv, capacity, d]. */
  readonly #keys: Tensor[] = [];
  readonly #values: Tensor[] = [];
  #view = { row: 0, rows: 0, column: 0, decode: false };
  /** Filled columns of the shared timeline: every active row's keys end here. */
  width = 0;
  /** Per slot: the column of its first position. */
  readonly #starts: number[];
  /** Bytes of the buffers: layers x (keys, values) x slots x capacity x H_kv x d. */
  readonly bytes: number;

  constructor(
    layers: number,
    readonly slots: number,
    capacity: number,
    shape: { kvHeads: number; headDim: number },
    dtype: DType,
    readonly device = 'cpu',
  ) {
    // No storage in the base class: this class owns the batched buffers.
    super(0, capacity, { batch: slots, ...shape }, dtype, device);
    this.#starts = new Array<number>(slots).fill(0);
    const elementBytes = typedArrayFor(dtype, new ArrayBuffer(8)).BYTES_PER_ELEMENT;
    this.bytes = layers * 2 * slots * capacity * shape.kvHeads * shape.headDim * elementBytes;
    for (let i = 0; i < layers; i++) {
      this.#keys.push(keep(zeros([slots, shape.kvHeads, shape.headDim, capacity], { dtype, device })));
      this.#values.push(keep(zeros([slots, shape.kvHeads, capacity, shape.headDim], { dtype, device })));
    }
  }

  /**
   * The next forward is the prefill of a prompt of `length` positions into slot `rows` (rows [0, rows) are active):
   * it ends at the shared width, which first grows (the others shifted right) if the prompt is longer.
   */
  beginPrefill(rows: number, length: number): void {
    if (rows === 0) this.width = length;
    else if (length > this.width) this.#shift(rows, length - this.width);
    this.#starts[rows] = this.width - length;
    this.#view = { row: rows, rows: 1, column: this.width - length, decode: false };
    this.length = 0;
  }

  /**
   * The next forward is a decode step of rows [0, rows), each writing its token at column `width`. Returns that
   * step's attention mask [rows, width + 1] (row b sees its own columns [start_b, width]) and position ids [rows, 1]
   * (width - start_b).
   */
  beginDecode(rows: number): { attentionMask: Tensor; positionIds: Tensor } {
    const starts = this.#starts.slice(0, rows);
    if (this.width + 1 > this.capacity) this.#shift(rows, -Math.min(...starts));
    const W = this.width;
    this.#view = { row: 0, rows, column: 0, decode: true };
    this.length = W;
    const start = tensor(BigInt64Array.from(this.#starts.slice(0, rows), BigInt), [rows, 1]).to(this.device);
    return {
      attentionMask: arange(0, W + 1, 1, { device: this.device })
        .view(1, W + 1)
        .ge(start)
        .to('int64'),
      positionIds: start.neg().add(W),
    };
  }

  override window(layer: number, t: number): { keysT: Tensor; values: Tensor } {
    const { column } = this.#view;
    if (column + this.length + t > this.capacity)
      throw new Error(`SlotCache: column ${column + this.length + t} is past its capacity of ${this.capacity}`);
    return {
      keysT: this.#window(this.#keys[layer]!, 3, column, this.length + t),
      values: this.#window(this.#values[layer]!, 2, column, this.length + t),
    };
  }

  /** The view's rows of `buffer`, positions [start, start + length) on `dim`; the intermediate view is freed at once. */
  #window(buffer: Tensor, dim: number, start: number, length: number): Tensor {
    const rows = buffer.narrow(0, this.#view.row, this.#view.rows);
    const window = rows.narrow(dim, start, length);
    rows.dispose();
    return window;
  }

  override advance(t: number): void {
    this.length += t;
    if (this.#view.decode) this.width += t;
  }

  /** Copies slot `from`'s columns into slot `to` (a request left `to`). */
  moveSlot(from: number, to: number): void {
    this.#starts[to] = this.#starts[from]!;
    scope(() =>
      noGrad(() => {
        for (const buffers of [this.#keys, this.#values])
          for (const b of buffers) b.narrow(0, to, 1).copy_(b.narrow(0, from, 1));
      }),
    );
  }

  /** Moves the used columns of rows [0, rows) by `by` columns (right if positive) on the timeline. */
  #shift(rows: number, by: number): void {
    const from = Math.min(...this.#starts.slice(0, rows));
    const used = this.width - from;
    // Keys hold positions on dim 3, values on dim 2; the clone makes an overlapping move safe.
    const move = (b: Tensor, dim: number) => {
      const r = b.narrow(0, 0, rows);
      r.narrow(dim, from + by, used).copy_(r.narrow(dim, from, used).clone());
    };
    scope(() =>
      noGrad(() => {
        for (const b of this.#keys) move(b, 3);
        for (const b of this.#values) move(b, 2);
      }),
    );
    for (let i = 0; i < rows; i++) this.#starts[i]! += by;
    this.width += by;
  }

  override dispose(): void {
    for (const t of [...this.#keys, ...this.#values]) t.dispose();
  }
}
