// What the engine runs on: libtorch build, the BLAS actually mapped into this process,
// threads, devices and a measured GEMM rate. `llava doctor` prints it; the BLAS set-up is part
// of the product (reference BLAS is ~50x slower than OpenBLAS on the same machine).
import { readFileSync } from 'node:fs';
import { native } from './native.js';
import { randn } from './creation.js';
import { noGrad } from './autograd.js';
import { scope } from './scope.js';

export type BlasKind = 'openblas-openmp' | 'openblas-pthread' | 'openblas-serial' | 'mkl' | 'reference' | 'unknown';

export type RuntimeReport = {
  torchVersion: string;
  blasLibraries: string[];
  blas: BlasKind;
  threads: number;
  ompWaitPolicy: string | undefined;
  gompSpincount: string | undefined;
  openblasCore: string | undefined; // the kernels OpenBLAS runs (its own name for them)
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  parallelInfo: string;
};

/** Shared libraries of BLAS, LAPACK and OpenMP mapped into this process now. */
function mappedBlasLibraries(): string[] {
  const paths = readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .map((line) => line.split(/\s+/)[5] ?? '');
  return [...new Set(paths.filter((p) => /blas|mkl_|lapack|libgomp|libiomp|libomp/.test(p)))];
}

export function classifyBlas(libraries: string[]): BlasKind {
  const joined = libraries.join('\n');
  if (/libmkl_/.test(joined)) return 'mkl';
  if (/openblas-openmp|libopenblaso/.test(joined)) return 'openblas-openmp';
  if (/openblas-pthread|libopenblasp/.test(joined)) return 'openblas-pthread';
  if (/openblas-serial/.test(joined)) return 'openblas-serial';
  if (/\/blas\/libblas\.so|libblas\.so\.3$/.test(joined) && !/openblas/.test(joined)) return 'reference';
  return 'unknown';
}

export function runtimeReport(): RuntimeReport {
  // A small GEMM makes libtorch load its BLAS before we look at the process's mappings.
  scope(() => noGrad(() => randn([8, 8]).matmul(randn([8, 8]))));
  const info = native.runtimeInfo();
  const blasLibraries = mappedBlasLibraries();
  return {
    torchVersion: info.torchVersion,
    blasLibraries,
    blas: classifyBlas(blasLibraries),
    threads: native.numThreads(),
    ompWaitPolicy: process.env.OMP_WAIT_POLICY,
    gompSpincount: process.env.GOMP_SPINCOUNT,
    openblasCore: info.openblasCore,
    cudaAvailable: info.cudaAvailable,
    cudaDeviceCount: info.cudaDeviceCount,
    parallelInfo: info.parallelInfo,
  };
}

/** Sets libtorch's intra-op thread count (torch.set_num_threads) and returns the previous one. */
export function setNumThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`setNumThreads: expected a positive integer, got ${threads}`);
  const previous = native.numThreads();
  native.numThreads(threads);
  return previous;
}

/** fp32 GEMM rate, n×n by n×n, the median of `reps` timed runs after one warm-up, in GFLOPS. */
export function measureGemmGflops(n: number, reps = 5): number {
  return scope(() =>
    noGrad(() => {
      const a = randn([n, n]);
      const b = randn([n, n]);
      a.matmul(b).dispose();
      const times: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        a.matmul(b).dispose();
        times.push(performance.now() - t0);
      }
      const median = times.sort((x, y) => x - y)[Math.floor(reps / 2)]!;
      return (2 * n ** 3) / (median / 1e3) / 1e9;
    }),
  );
}
