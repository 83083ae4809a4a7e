// The torch.save writer: files read back by the project's reader and by PyTorch's own torch.load (Debian's
// python3-torch), with names, dtypes, shapes and values as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { openTorchBin } from '../../src/io/torch-bin-tensors.js';
import { saveTorchBin } from '../../src/io/torch-bin-writer.js';
import { arange, tensor } from '../../src/torch/index.js';
import { tempDir } from './helpers.js';

test('saveTorchBin: read back by our reader and by torch.load with keys, dtypes, shapes and values', () => {
  const dir = tempDir('llava-bin-');
  try {
    const path = join(dir.path, 'mm_projector.bin');
    const tensors = new Map([
      ['model.mm_projector.0.weight', arange(0, 12).to('float32').div(4).view(3, 4)],
      ['model.mm_projector.0.bias', tensor(new Float32Array([-1.5, 2.25, 1e-8]), [3])],
      ['model.mm_projector.2.weight', arange(0, 6).to('bfloat16').view(2, 3)],
      ['ids', tensor(new BigInt64Array([1n, -200n, 2n ** 40n]), [3])],
      ['scalar', tensor(new Float64Array([Math.PI]), [])],
    ]);
    saveTorchBin(path, tensors);
    const reader = openTorchBin(path);
    assert.deepEqual(reader.names(), [...tensors.keys()]);
    for (const [name, t] of tensors) {
      const back = reader.readTensor(name);
      assert.equal(back.dtype, t.dtype, name);
      assert.deepEqual(back.shape, t.shape, name);
      assert.deepEqual(back.toTypedArray(), t.contiguous().toTypedArray(), name);
    }
    reader.close();
    const script = [
      'import sys, json, torch',
      'd = torch.load(sys.argv[1])',
      'print(json.dumps({k: [str(v.dtype), list(v.shape), v.double().flatten().tolist()] for k, v in d.items()}))',
    ].join('\n');
    const out = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' }));
    assert.deepEqual(Object.keys(out), [...tensors.keys()]);
    assert.deepEqual(out['model.mm_projector.0.weight'], [
      'torch.float32',
      [3, 4],
      [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75],
    ]);
    assert.deepEqual(out['model.mm_projector.0.bias'], ['torch.float32', [3], [-1.5, 2.25, Math.fround(1e-8)]]);
    assert.deepEqual(out['model.mm_projector.2.weight'], ['torch.bfloat16', [2, 3], [0, 1, 2, 3, 4, 5]]);
    assert.deepEqual(out.ids, ['torch.int64', [3], [1, -200, 2 ** 40]]);
    assert.deepEqual(out.scalar, ['torch.float64', [], [Math.PI]]);
  } finally {
    dir.remove();
  }
});
