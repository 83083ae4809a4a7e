// Loads the libtorch addon (build/llava_torch.node) once, after setting the OpenMP and OpenBLAS
// environment that must be in place before libgomp and OpenBLAS initialise.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { cpuFlags, openblasCoreFor } from './openblas-core.js';

/** An opaque native tensor handle (a type-tagged Napi::External owning one at::Tensor). */
export type Handle = { readonly __handle: unique symbol };
export type OpResult = Handle | number | boolean | undefined | OpResult[];

export interface NativeTorch {
  fromTypedArray(array: ArrayBufferView, shape: number[], scalarType: number): Handle;
  toArrayBuffer(t: Handle): ArrayBuffer;
  shapeOf(t: Handle): number[];
  dtypeOf(t: Handle): number;
  deviceOf(t: Handle): string;
  itemOf(t: Handle): number;
  requiresGrad(t: Handle, value?: boolean): boolean;
  isLeaf(t: Handle): boolean;
  retainGrad(t: Handle): void;
  gradOf(t: Handle): Handle | undefined;
  setGrad(t: Handle, grad: Handle | undefined): void;
  assign(t: Handle, src: Handle): void;
  dispose(t: Handle): void;
  isDisposed(t: Handle): boolean;
  backward(roots: Handle[], grads: Handle[] | undefined, retainGraph: boolean, createGraph: boolean): void;
  autogradGrad(
    outputs: Handle[],
    inputs: Handle[],
    gradOutputs: Handle[] | undefined,
    retainGraph: boolean,
    createGraph: boolean,
    allowUnused: boolean,
  ): (Handle | undefined)[];
  setGradEnabled(enabled: boolean): boolean;
  manualSeed(seed: number): void;
  numThreads(set?: number): number;
  liveHandles(): number;
  accountedBytes(): number;
  runtimeInfo(): {
    torchVersion: string;
    parallelInfo: string;
    buildConfig: string;
    cudaAvailable: boolean;
    cudaDeviceCount: number;
    openblasCore?: string; // openblas_get_corename(), where OpenBLAS is loaded
  };
  resolveOp(name: string, overload: string): number;
  opSchema(id: number): string;
  callOp(id: number, ...args: unknown[]): OpResult;
}

// Found from this file (dist/src/torch/native.js), so an installed package finds its own build, whatever the cwd.
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const addonPath = join(packageRoot, 'build', 'llava_torch.node');

/**
 * How long idle OpenMP threads spin before sleeping (libgomp), unless the user chose
 * (OMP_WAIT_POLICY or GOMP_SPINCOUNT). Never spinning (PASSIVE) pays a thread wake-up on every
 * small op: decoding one token took 18 ms instead of 14.8 here. Spinning forever (ACTIVE) burns a
 * core while idle, e.g. a server between requests. A short spin gets the speed of both.
 */
export const DEFAULT_SPINCOUNT = '10000';

/** OMP_NUM_THREADS as libtorch's thread count; libgomp would take a list ("4,2") for nested levels: the first counts. */
function ompNumThreads(): number | undefined {
  const value = process.env.OMP_NUM_THREADS;
  if (value === undefined || value.trim() === '') return undefined;
  const first = value.split(',')[0]!.trim();
  if (!/^[0-9]+$/.test(first) || Number(first) < 1)
    throw new Error(`OMP_NUM_THREADS=${value} is not a thread count: set it to a positive integer or unset it`);
  return Number(first);
}

function load(): NativeTorch {
  // libgomp reads its environment when it loads, with the addon below.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined)
    process.env.GOMP_SPINCOUNT = DEFAULT_SPINCOUNT;
  if (process.env.OPENBLAS_CORETYPE === undefined) {
    const core = openblasCoreFor(cpuFlags());
    if (core) process.env.OPENBLAS_CORETYPE = core;
  }
  const threads = ompNumThreads() ?? availableParallelism();
  if (!existsSync(addonPath)) {
    const build = join(packageRoot, 'native', 'build.mjs');
    throw new Error(
      `the libtorch addon is not built (${addonPath} is missing): run 'node ${build}', which names what it lacks`,
    );
  }
  const native = createRequire(import.meta.url)(addonPath) as NativeTorch;
  native.numThreads(threads);
  return native;
}

export const native: NativeTorch = load();
