// `llava doctor`: what the engine runs on, and a loud warning wherever training would be slow.
import { availableParallelism } from 'node:os';
import { cpuFlags, openblasCoreFor } from '../torch/openblas-core.js';
import { measureGemmGflops, runtimeReport } from '../torch/runtime.js';

// A working OpenBLAS-OpenMP set-up reaches ~130 GFLOPS on 2 AVX2 cores; reference BLAS ~3.
const SLOW_GFLOPS_PER_CORE = 20;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(
      'usage: llava doctor [--json]\n\nPrints the libtorch build, the BLAS in use, threads, devices and the measured fp32 GEMM rate.',
    );
    return 0;
  }
  const report = runtimeReport();
  const gflops = measureGemmGflops(1024);
  const cores = availableParallelism();
  const warnings: string[] = [];
  if (report.blas === 'reference')
    warnings.push(
      'libtorch is using the reference BLAS (about 50x slower): run `bash scripts/setup.sh` or `update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3`',
    );
  if (report.blas === 'openblas-pthread')
    warnings.push(
      "OpenBLAS's pthread build fights libtorch's OpenMP threads (the transformer block ran 358 ms instead of 221 ms): select the OpenMP build (`libopenblas0-openmp`)",
    );
  const matching = openblasCoreFor(cpuFlags());
  if (
    matching &&
    report.openblasCore &&
    /^(prescott|core2|penryn|dunnington|nehalem|atom|sandybridge)$/i.test(report.openblasCore)
  )
    warnings.push(
      `OpenBLAS runs ${report.openblasCore}'s kernels on a CPU with ${matching === 'SkylakeX' ? 'AVX-512' : 'AVX2'} (GEMM about 5x slower): unset OPENBLAS_CORETYPE, or set it to ${matching}`,
    );
  if (report.threads < cores)
    warnings.push(
      `libtorch uses ${report.threads} of ${cores} cores (OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS ?? 'unset'})`,
    );
  if (report.ompWaitPolicy?.toUpperCase() === 'ACTIVE')
    warnings.push(
      'OMP_WAIT_POLICY=ACTIVE: idle OpenMP threads spin forever and take a core from everything else (a server between requests); leave it unset for a short spin, or PASSIVE',
    );
  if (gflops < SLOW_GFLOPS_PER_CORE * report.threads)
    warnings.push(
      `fp32 GEMM 1024³ runs at ${gflops.toFixed(1)} GFLOPS, below ${SLOW_GFLOPS_PER_CORE * report.threads}: check the BLAS above`,
    );

  if (argv.includes('--json')) {
    console.log(JSON.stringify({ ...report, gemm1024Gflops: gflops, warnings }));
    return 0;
  }
  const rows: [string, string][] = [
    ['libtorch', report.torchVersion],
    [
      'BLAS',
      `${report.blas}${report.openblasCore ? `, ${report.openblasCore} kernels` : ''} (${report.blasLibraries.join(', ') || 'none mapped'})`,
    ],
    [
      'threads',
      `${report.threads} of ${cores} cores, OMP_WAIT_POLICY=${report.ompWaitPolicy ?? 'unset'}, GOMP_SPINCOUNT=${report.gompSpincount ?? 'unset'}`,
    ],
    [
      'devices',
      report.cudaAvailable
        ? `cpu, cuda (${report.cudaDeviceCount} GPU${report.cudaDeviceCount === 1 ? '' : 's'})`
        : 'cpu (no CUDA in this libtorch)',
    ],
    ['GEMM 1024³', `${gflops.toFixed(1)} GFLOPS fp32`],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(12)} ${v}`);
  for (const w of warnings) console.log(`\n!! WARNING: ${w}`);
  if (!warnings.length) console.log('\nok: the engine is set up for speed');
  return 0;
}
