// One KV cache shared by the requests decoding together (continuous batching). Slot s holds one request's keys and
// values on a common timeline of columns: every active request writes its next token at the same column W, so a
// decode step is one batched forward over rows [0, n). A request's own tokens end at W and start at its `start`
// column; the columns before it are masked out. Joining puts a prefill at [W - P, W) (shifting the others right when
// the prompt is longer than W); leaving moves the last row into the freed slot, so active rows stay 0..n-1.
//
// It is the model's KVCache to LlamaModel (same update/advance protocol) over a view that the engine sets before
// each forward: a prefill view (one slot, from its start column) or the decode view (all active rows, whole width).
import { keep, noGrad, scope, zeros, type DType, type Tensor } from '../torch/index.js';
import { KVCache } from '../models/kv-cache.js';

export class SlotCache extends KVCache {
  /** Per layer: keys [slots, H_kv, d, capacity] (transposed, as KVCache), values [slots, H_kv, capacity, d]. */
  readonly #keys: Tensor[] = [];
  readonly #values: Tensor[] = [];
  #view = { row: 0, rows: 0, column: 0 };

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
    for (let i = 0; i < layers; i++) {
      this.#keys.push(keep(zeros([slots, shape.kvHeads, shape.headDim, capacity], { dtype, device })));
      this.#values.push(keep(zeros([slots, shape.kvHeads, capacity, shape.headDim], { dtype, device })));
    }
  }

  /** The next forward is a prefill of `slot` whose first position goes to `column`. */
  viewPrefill(slot: number, column: number): void {
    this.#view = { row: slot, rows: 1, column };
    this.length = 0;
  }

  /** The next forward is a decode step of rows [0, rows) writing column `width` after `width` filled columns. */
  viewDecode(rows: number, width: number): void {
    this.#view = { row: 0, rows, column: 0 };
    this.length = width;
  }

  override update(layer: number, k: Tensor, v: Tensor): { keysT: Tensor; values: Tensor } {
    const t = k.size(2);
    const { column } = this.#view;
    if (column + this.length + t > this.capacity)
      throw new Error(`SlotCache: column ${column + this.length + t} is past its capacity of ${this.capacity}`);
    noGrad(() => {
      const keys = this.#window(this.#keys[layer]!, 3, column + this.length, t);
      keys.copy_(k.transpose(2, 3)).dispose();
      const values = this.#window(this.#values[layer]!, 2, column + this.length, t);
      values.copy_(v).dispose();
    });
    return {
      keysT: this.#window(this.#keys[layer]!, 3, column, this.length + t),
      values: this.#window(this.#values[layer]!, 2, column, this.length + t),
    };
  }

  /**
   * The view's rows of `buffer`, positions [start, start + length) on `dim`. Intermediate views are freed at once:
   * the addon counts every handle of a view as the whole buffer's bytes of external memory, and a few such handles
   * alive together make V8 collect garbage at every layer (a decode step 5x slower with 8 slots of 1024 positions).
   */
  #window(buffer: Tensor, dim: number, start: number, length: number): Tensor {
    const rows = buffer.narrow(0, this.#view.row, this.#view.rows);
    const window = rows.narrow(dim, start, length);
    rows.dispose();
    return window;
  }

  override advance(t: number): void {
    this.length += t;
  }

  /** Copies slot `from`'s columns into slot `to` (a request left `to`). */
  moveSlot(from: number, to: number): void {
    scope(() =>
      noGrad(() => {
        for (const buffers of [this.#keys, this.#values])
          for (const b of buffers) b.narrow(0, to, 1).copy_(b.narrow(0, from, 1));
      }),
    );
  }

  /** Moves columns [from, from + width) of rows [0, rows) to start at column `to` (the ranges may overlap). */
  shiftColumns(rows: number, from: number, width: number, to: number): void {
    if (width === 0 || from === to) return;
    // Keys hold positions on dim 3, values on dim 2; the clone makes an overlapping move safe.
    const move = (b: Tensor, dim: number) => {
      const r = b.narrow(0, 0, rows);
      r.narrow(dim, to, width).copy_(r.narrow(dim, from, width).clone());
    };
    scope(() =>
      noGrad(() => {
        for (const b of this.#keys) move(b, 3);
        for (const b of this.#values) move(b, 2);
      }),
    );
  }

  override dispose(): void {
    for (const t of [...this.#keys, ...this.#values]) t.dispose();
  }
}
