// The fp32 FMA peak that MFU and GEMM efficiency are measured against (bench/fma_peak.c, compiled here for this
// CPU). On a shared machine one measurement can land in another job's burst, so a bench measures again between
// its cases and reports against the highest figure seen.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'fma_peak.c');

export function fmaPeak(threads: number) {
  const dir = mkdtempSync(join(tmpdir(), 'fma-'));
  const exe = join(dir, 'fma_peak');
  execFileSync('gcc', ['-O3', '-funroll-loops', '-march=native', '-fopenmp', source, '-o', exe]);
  let highest = 0;
  return {
    /** Measures three times more; returns the highest GFLOPS seen so far. */
    measure(): number {
      for (let i = 0; i < 3; i++) {
        const out = execFileSync(exe, { env: { ...process.env, OMP_NUM_THREADS: String(threads) }, encoding: 'utf8' });
        highest = Math.max(highest, Number(out.split(' ')[0]));
      }
      return highest;
    },
    get gflops() {
      return highest;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
