// Misuse is a JS exception with a readable message, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';

const f32 = (data: number[], shape = [data.length]) => T.tensor(Float32Array.from(data), shape);

test('shape mismatch names the operator and the shapes', () => {
  assert.throws(
    () => f32([1, 2, 3, 4, 5, 6], [2, 3]).matmul(f32([1, 2, 3, 4], [2, 2])),
    /matmul.*2x3.*2x2|aten::mm.*2x3/s,
  );
  assert.throws(() => f32([1, 2]).add(f32([1, 2, 3])), /size of tensor a \(2\) must match the size of tensor b \(3\)/);
  assert.throws(() => f32([1, 2, 3, 4]).view(3), /shape '\[3\]' is invalid for input of size 4/);
});

test('dtype mismatch is an error', () => {
  const ids = T.tensor(new Float32Array([0, 1]), [2]);
  assert.throws(() => T.embedding(ids, T.ones([3, 2])), /Long|Int|indices/);
  assert.throws(() => T.crossEntropy(T.ones([2, 3]), f32([0, 1])), /expected scalar type Long|Float/);
});

test('use after dispose is an error naming the tensor was disposed', () => {
  const t = f32([1, 2]);
  t.dispose();
  assert.equal(t.isDisposed, true);
  assert.throws(() => t.add(1), /used after dispose/);
  assert.throws(() => t.shape, /used after dispose/);
  assert.throws(() => t.toTypedArray(), /used after dispose/);
  t.dispose(); // a second dispose is harmless
});

test('bad construction arguments are named', () => {
  assert.throws(() => T.tensor(new Float32Array(3), [2, 2]), /needs 16 bytes of Float but the array holds 12/);
  assert.throws(() => T.tensor(new Float32Array(3), [-1, 3]), /invalid dimension -1/);
  assert.throws(() => T.tensor(new Uint16Array(2)), /pass 'float16' or 'bfloat16'/);
  assert.throws(() => T.tensor(new Float32Array(2), [2], 'complex64' as T.DType), /unknown dtype 'complex64'/);
  assert.throws(() => T.zeros([2]).to('tpu'), /device|tpu/i);
});

test('non-tensor where a tensor is expected, and wrong argument types, are TypeErrors', () => {
  const t = f32([1, 2]);
  // The whole message: the operator, the argument's name and schema type, what was expected and what came.
  const error = (message: string) => ({ name: 'TypeError', message });
  assert.throws(
    () => t.matmul({ handle: 3 } as unknown as T.Tensor),
    error("aten::matmul argument 'other' (Tensor): expected a Tensor, got the number 3"),
  );
  assert.throws(
    () => t.sum(1.5),
    error("aten::sum.dim_IntList argument 'dim' (int[]?): expected an integer, got the number 1.5"),
  );
  assert.throws(
    () => t.view('a' as unknown as number),
    error("aten::view argument 'size' (int[]): expected an integer, got a string"),
  );
});

test('backward on a tensor that does not require grad says so', () => {
  assert.throws(() => f32([1, 2]).sum().backward(), /does not require grad/);
  assert.throws(
    () => T.ones([2], { requiresGrad: true }).mul(2).backward(),
    /grad can be implicitly created only for scalar outputs/,
  );
});

test('an async function in scope() is refused', () => {
  assert.throws(() => T.scope(async () => 1), /synchronous/);
});
