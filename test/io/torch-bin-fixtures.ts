// Shared by the torch-bin tests: the torch.save fixtures (test/fixtures/torch-bin, written by make.py with
// PyTorch 1.13) and PyTorch's own bytes for every tensor in them, listed in expected.json.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SafetensorsDType } from '../../src/io/safetensors.js';
import { REPO_ROOT } from './helpers.js';

export const FIXTURES = join(REPO_ROOT, 'test/fixtures/torch-bin');

export interface ExpectedTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** The elements row-major and little-endian, as PyTorch's .contiguous() lays them out. */
  data: Uint8Array;
}

interface Manifest {
  [file: string]: {
    bytes: string;
    tensors: { name: string; dtype: string; shape: number[]; offset: number; nbytes: number }[];
  };
}

// str(torch.dtype) -> the safetensors name RawTensor uses (the mapping safetensors.torch documents).
const DTYPE: Readonly<Record<string, SafetensorsDType>> = {
  'torch.float64': 'F64',
  'torch.float32': 'F32',
  'torch.float16': 'F16',
  'torch.bfloat16': 'BF16',
  'torch.int64': 'I64',
  'torch.int32': 'I32',
  'torch.int16': 'I16',
  'torch.int8': 'I8',
  'torch.uint8': 'U8',
  'torch.bool': 'BOOL',
};

export const MANIFEST = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Manifest & {
  zip64: Zip64Manifest;
};

/** What torch.load returned for `file`, in its order. */
export function expectedTensors(file: string): ExpectedTensor[] {
  const { bytes, tensors } = MANIFEST[file];
  const blob = readFileSync(join(FIXTURES, bytes));
  return tensors.map(({ name, dtype, shape, offset, nbytes }) => ({
    name,
    dtype: DTYPE[dtype],
    shape,
    data: new Uint8Array(blob.subarray(offset, offset + nbytes)),
  }));
}

export interface Zip64Manifest {
  /** The file's size; its bytes are `head`, zeros, then `tail` (the 4 GiB storage's middle is all zeros). */
  size: number;
  head: string;
  tail: string;
  tensors: { name: string; dtype: string; shape: number[] }[];
  big_tail: number[];
  after: number[];
}

export function dtypeOf(torchDtype: string): SafetensorsDType {
  return DTYPE[torchDtype];
}
