// The dtype loaded weights are computed in. libtorch 1.13 has no CPU kernels for Half in linear
// or layer norm ("addmm_impl_cpu_" not implemented for 'Half'), and the original LLaVA and
// llava-hf 7B/13B checkpoints are stored in float16: on CPU, dtype 'auto' computes those weights
// in float32 (saying so once per load) and an explicit float16 is refused before anything is read.
import { isFloating, layerNorm, linear, scope, zeros, type DType } from '../torch/index.js';

export type DTypeOption = DType | 'auto';

let halfOnCpu: { ok: true } | { ok: false; reason: string } | undefined;

/** Whether this libtorch runs linear and layer norm in float16 on CPU; if not, its own error. */
function cpuHalfSupport(): { ok: true } | { ok: false; reason: string } {
  halfOnCpu ??= scope(() => {
    try {
      const h = zeros([2, 2], { dtype: 'float16' });
      linear(h, h);
      layerNorm(h, [2]);
      return { ok: true as const };
    } catch (err) {
      return { ok: false as const, reason: (err as Error).message.split('\n')[0]! };
    }
  });
  return halfOnCpu;
}

/**
 * stored dtype -> compute dtype for one load onto `device`. Throws at once (before any file is
 * read) for float16 on a CPU without Half kernels.
 */
export function computeDtypes(requested: DTypeOption, device: string, where: string): (stored: DType) => DType {
  const cpu = device === 'cpu';
  if (cpu && requested === 'float16') {
    const half = cpuHalfSupport();
    if (!half.ok)
      throw new Error(
        `${where}: dtype float16 on CPU: this libtorch has no CPU kernels for Half (${half.reason}); use 'float32' or 'bfloat16' on CPU, or float16 with device: 'cuda'`,
      );
  }
  let warned = false;
  return (stored) => {
    if (!isFloating(stored)) return stored; // ids and masks keep their type
    if (requested !== 'auto') return requested;
    if (stored !== 'float16' || !cpu) return stored;
    const half = cpuHalfSupport();
    if (half.ok) return stored;
    if (!warned) {
      warned = true;
      process.emitWarning(
        `${where}: float16 weights are computed in float32 on CPU (this libtorch has no CPU kernels for Half: ${half.reason}); pass dtype: 'bfloat16' for bf16`,
        { code: 'LLAVA_FLOAT16_ON_CPU' },
      );
    }
    return 'float32';
  };
}
