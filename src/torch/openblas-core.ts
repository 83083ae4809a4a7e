// Which OpenBLAS kernels this CPU should run. Debian's OpenBLAS (0.3.21, built for every x86 core) picks its
// kernels from the CPU's model number and falls back to Prescott's SSE3 ones for models it does not know, which
// newer and virtualised Xeons are: there fp32 GEMM ran at 28 GFLOPS instead of 146 on 2 cores. OpenBLAS takes
// OPENBLAS_CORETYPE when it loads, so the loader sets it from the instruction sets the CPU reports, unless the
// user already chose; child processes (PyTorch anchors, workers) inherit the same choice.
import { readFileSync } from 'node:fs';

/** The OpenBLAS core whose kernels match these /proc/cpuinfo flags, or undefined where detection is trusted. */
export function openblasCoreFor(flags: ReadonlySet<string>): string | undefined {
  const has = (...names: string[]) => names.every((n) => flags.has(n));
  if (has('avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd')) return 'SkylakeX';
  if (has('avx2', 'fma')) return 'Haswell';
  return undefined; // older CPUs are all in OpenBLAS's tables
}

/** The flags line of /proc/cpuinfo (empty off Linux or off x86). */
export function cpuFlags(cpuinfo = '/proc/cpuinfo'): Set<string> {
  let text = '';
  try {
    text = readFileSync(cpuinfo, 'utf8');
  } catch {
    return new Set();
  }
  const line = /^flags\s*:(.*)$/m.exec(text);
  return new Set(line ? line[1]!.trim().split(/\s+/) : []);
}
