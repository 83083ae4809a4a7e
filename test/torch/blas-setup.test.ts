// The BLAS set-up: OpenBLAS runs the kernels of the CPU's instruction sets (not Prescott's fallback for CPU models
// it does not know), and `llava doctor` says which, and warns when they are the slow ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuFlags, openblasCoreFor } from '../../src/torch/openblas-core.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('the OpenBLAS core follows the instruction sets: AVX-512 → SkylakeX, AVX2+FMA → Haswell, older → OpenBLAS', () => {
  const set = (s: string) => new Set(s.split(' '));
  assert.equal(openblasCoreFor(set('sse3 avx avx2 fma avx512f avx512bw avx512vl avx512dq avx512cd')), 'SkylakeX');
  assert.equal(openblasCoreFor(set('sse3 avx avx2 fma avx512f')), 'Haswell'); // Knights Landing: no BW/VL
  assert.equal(openblasCoreFor(set('sse3 avx avx2 fma')), 'Haswell');
  assert.equal(openblasCoreFor(set('sse3 avx avx2')), undefined);
  assert.equal(openblasCoreFor(set('sse3 avx')), undefined);
});

test('cpuFlags reads the flags line of a cpuinfo file, and nothing from a missing one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cpuinfo-'));
  try {
    const file = join(dir, 'cpuinfo');
    writeFileSync(
      file,
      'processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse3 avx2 fma\nbugs\t\t: spectre_v1\n',
    );
    assert.deepEqual([...cpuFlags(file)], ['fpu', 'sse3', 'avx2', 'fma']);
    assert.equal(cpuFlags(join(dir, 'missing')).size, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const doctor = (env: NodeJS.ProcessEnv) =>
  JSON.parse(execFileSync(process.execPath, [CLI, 'doctor', '--json'], { encoding: 'utf8', env })) as {
    blas: string;
    openblasCore?: string;
    warnings: string[];
  };

test('loading the engine sets OpenBLAS to this CPU’s kernels, and doctor warns when they are the slow ones', () => {
  const { OPENBLAS_CORETYPE: _, ...env } = process.env;
  const expected = openblasCoreFor(cpuFlags());
  const chosen = doctor(env);
  if (chosen.blas.startsWith('openblas')) {
    // OpenBLAS names the kernels it loaded; with no OPENBLAS_CORETYPE given they must be the CPU's.
    assert.ok(chosen.openblasCore, 'OpenBLAS is loaded but reported no core');
    if (expected) assert.equal(chosen.openblasCore!.toLowerCase(), expected.toLowerCase());
    const forced = doctor({ ...env, OPENBLAS_CORETYPE: 'Prescott' });
    assert.equal(forced.openblasCore, 'Prescott');
    const warned = forced.warnings.some((w) => w.includes("OpenBLAS runs Prescott's kernels"));
    assert.equal(warned, expected !== undefined, forced.warnings.join('\n'));
  } else {
    assert.equal(chosen.openblasCore, undefined);
  }
});
