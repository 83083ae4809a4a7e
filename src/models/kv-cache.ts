// A preallocated key/value cache: a step writes its slice in place and attends over a view of
// the filled prefix, so decoding never re-copies the past (transformers' DynamicCache
// concatenates, O(T²) copying over a generation). Keys are stored transposed,
// [B, H_kv, head_dim, capacity], so that q·Kᵀ reads the prefix view directly as a strided
// BLAS operand; values are [B, H_kv, capacity, head_dim].
import { keep, noGrad, scope, zeros, type DType, type Tensor } from '../torch/index.js';

export class KVCache {
  /** Positions filled so far (the same for every layer once a forward pass completes). */
  length = 0;
  readonly #keys: Tensor[] = [];
  readonly #values: Tensor[] = [];

  constructor(
    readonly numLayers: number,
    readonly capacity: number,
    readonly shape: { batch: number; kvHeads: number; headDim: number },
    dtype: DType,
    device = 'cpu',
  ) {
    for (let i = 0; i < numLayers; i++) {
      this.#keys.push(keep(zeros([shape.batch, shape.kvHeads, shape.headDim, capacity], { dtype, device })));
      this.#values.push(keep(zeros([shape.batch, shape.kvHeads, capacity, shape.headDim], { dtype, device })));
    }
  }

  /**
   * Kᵀ [B, H_kv, d, S] and V [B, H_kv, S, d] for `layer`: the cached prefix and then `t` new positions, the last t
   * of S, which the caller writes (update() does; the fused decoder layer writes them itself).
   */
  window(layer: number, t: number): { keysT: Tensor; values: Tensor } {
    if (this.length + t > this.capacity)
      throw new Error(`KVCache: ${this.length} cached + ${t} new positions exceed its capacity of ${this.capacity}`);
    return {
      keysT: this.#keys[layer]!.narrow(3, 0, this.length + t),
      values: this.#values[layer]!.narrow(2, 0, this.length + t),
    };
  }

  /** Writes k, v [B, H_kv, T, d] for `layer` after the cached prefix; returns Kᵀ [B, H_kv, d, S] and V [B, H_kv, S, d] so far. */
  update(layer: number, k: Tensor, v: Tensor): { keysT: Tensor; values: Tensor } {
    const t = k.size(2);
    const window = this.window(layer, t);
    const S = window.values.size(2);
    noGrad(() =>
      scope(() => {
        window.keysT.narrow(3, S - t, t).copy_(k.transpose(2, 3));
        window.values.narrow(2, S - t, t).copy_(v);
      }),
    );
    return window;
  }

  /** Called once per forward pass, after every layer has written its `t` new positions. */
  advance(t: number): void {
    this.length += t;
  }

  dispose(): void {
    for (const t of [...this.#keys, ...this.#values]) t.dispose();
  }
}
