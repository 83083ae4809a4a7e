// Every entry point of the addon, called wrongly (non-tensors, disposed tensors, wrong types, wrong argument counts,
// bad thread counts, unknown operators, libtorch's own errors), throws a JS error whose message starts with the call's
// name, and the process lives. The cases run in a child process (this file, re-run with LLAVA_BOUNDARY_CHILD set), so
// a C++ exception that escaped to Node, which aborts the process, fails the test instead of killing the runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NativeTorch, Handle } from '../../src/torch/native.js';
import type { NativeC10d } from '../../src/distributed/c10d-native.js';

type Native = NativeTorch & NativeC10d;
type Case = { label: string; call: (n: Native, t: Fixtures) => unknown; error: RegExp };
type Fixtures = { f32: Handle; disposed: Handle; long: Handle; needsGrad: Handle; add: number; sum: number };

const F32 = 6; // c10::ScalarType::Float
const f32 = (n: NativeTorch, values: number[]) => n.fromTypedArray(Float32Array.from(values), [values.length], F32);
type Rest = (t: Fixtures) => unknown[]; // the arguments after the tensor, where the call takes more
const notTensor = (name: string, rest: Rest = () => []): Case => ({
  label: 'a number for a tensor',
  call: (n, t) => (n[name as keyof Native] as (...a: unknown[]) => unknown)(42, ...rest(t)),
  error: new RegExp(`^${name} argument 't': expected a Tensor, got the number 42$`),
});
const disposed = (name: string, rest: Rest = () => []): Case => ({
  label: 'a disposed tensor',
  call: (n, t) => (n[name as keyof Native] as (...a: unknown[]) => unknown)(t.disposed, ...rest(t)),
  error: new RegExp(`^${name} argument 't': tensor was used after dispose\\(\\)$`),
});
const arity = (name: string, args: unknown[], wanted: string): Case => ({
  label: `${args.length} arguments`,
  call: (n) => (n[name as keyof Native] as (...a: unknown[]) => unknown)(...args),
  error: new RegExp(`^${name}: takes ${wanted}, got ${args.length}$`),
});
const notGroup = (name: string, rest: Rest): Case => ({
  label: 'a tensor for the group',
  call: (n, t) => (n[name as keyof Native] as (...a: unknown[]) => unknown)(t.f32, ...rest(t)),
  error: new RegExp(`^${name} argument 'group': expected a process group, got a Tensor$`),
});
const tensorGetter = (name: string): Case[] => [notTensor(name), disposed(name), arity(name, [], '1 argument')];

// One list per export: a new entry point without cases fails the coverage test below.
const cases: Record<keyof Native, Case[]> = {
  fromTypedArray: [
    {
      label: 'a string for the array',
      call: (n) => n.fromTypedArray('ab' as never, [2], F32),
      error: /^fromTypedArray argument 'array': expected a typed array, got a string$/,
    },
    {
      label: 'a string for the shape',
      call: (n) => n.fromTypedArray(new Float32Array(2), 'x' as never, F32),
      error: /^fromTypedArray argument 'shape': expected an array of integers, got a string$/,
    },
    {
      label: 'a fractional dimension',
      call: (n) => n.fromTypedArray(new Float32Array(2), [2.5], F32),
      error: /^fromTypedArray argument 'shape': expected an integer, got the number 2\.5$/,
    },
    {
      label: 'a negative dimension',
      call: (n) => n.fromTypedArray(new Float32Array(2), [-2, -1], F32),
      error: /^fromTypedArray argument 'shape': invalid dimension -2$/,
    },
    {
      label: 'an unknown scalar type',
      call: (n) => n.fromTypedArray(new Float32Array(2), [2], 99),
      error: /^fromTypedArray argument 'scalarType': 99 is no libtorch ScalarType$/,
    },
    {
      label: 'a size that does not match the bytes',
      call: (n) => n.fromTypedArray(new Float32Array(2), [3], F32),
      error: /^fromTypedArray: shape needs 12 bytes of Float but the array holds 8$/,
    },
    {
      label: 'a shape whose element getter throws',
      call: (n) => {
        const shape: number[] = [];
        Object.defineProperty(shape, 0, {
          get: () => {
            throw new Error('getter failed');
          },
          enumerable: true,
        });
        return n.fromTypedArray(new Float32Array(2), shape, F32);
      },
      error: /^fromTypedArray: getter failed$/,
    },
    ...[
      ['a string', 'threw a string'],
      [undefined, 'threw a value that is not an Error'],
    ].map(([thrown, said]): Case => ({
      label: `a shape whose element getter throws ${String(thrown)}`,
      call: (n) => {
        const shape: number[] = [];
        Object.defineProperty(shape, 0, {
          get: () => {
            throw thrown;
          },
        });
        return n.fromTypedArray(new Float32Array(2), shape, F32);
      },
      error: new RegExp(`^fromTypedArray: ${said}$`),
    })),
    arity('fromTypedArray', [new Float32Array(2)], '3 arguments'),
  ],
  toArrayBuffer: tensorGetter('toArrayBuffer'),
  shapeOf: tensorGetter('shapeOf'),
  dtypeOf: tensorGetter('dtypeOf'),
  deviceOf: tensorGetter('deviceOf'),
  itemOf: [
    ...tensorGetter('itemOf'),
    {
      label: 'two elements (libtorch refuses)',
      call: (n, t) => n.itemOf(t.f32),
      error: /^itemOf: a Tensor with 2 elements cannot be converted to Scalar$/,
    },
  ],
  requiresGrad: [
    notTensor('requiresGrad'),
    disposed('requiresGrad'),
    arity('requiresGrad', [], '1 to 2 arguments'),
    {
      label: 'an int64 tensor (libtorch refuses)',
      call: (n, t) => n.requiresGrad(t.long, true),
      error: /^requiresGrad: Only Tensors of floating point and complex dtype can require gradients$/,
    },
  ],
  isLeaf: tensorGetter('isLeaf'),
  retainGrad: [
    ...tensorGetter('retainGrad'),
    {
      label: 'a tensor without grad (libtorch refuses)',
      call: (n, t) => n.retainGrad(t.f32),
      error: /^retainGrad: can't retain_grad on Tensor that has requires_grad=False$/,
    },
  ],
  gradOf: tensorGetter('gradOf'),
  setGrad: [
    notTensor('setGrad', () => [undefined]),
    disposed('setGrad', () => [undefined]),
    {
      label: 'a string for the grad',
      call: (n, t) => n.setGrad(t.f32, 'g' as never),
      error: /^setGrad argument 'grad': expected a Tensor, got a string$/,
    },
    {
      label: 'a grad of another shape',
      call: (n, t) => n.setGrad(t.f32, f32(n, [1, 2, 3])),
      error: /^setGrad: a grad of Float \[3\] on cpu for a tensor of Float \[2\] on cpu$/,
    },
    arity('setGrad', [], '2 arguments'),
  ],
  assign: [
    notTensor('assign', (t) => [t.f32]),
    disposed('assign', (t) => [t.f32]),
    {
      label: 'a disposed source',
      call: (n, t) => n.assign(t.f32, t.disposed),
      error: /^assign argument 'src': tensor was used after dispose\(\)$/,
    },
    arity('assign', [1], '2 arguments'),
  ],
  dispose: [notTensor('dispose'), arity('dispose', [], '1 argument')],
  isDisposed: [notTensor('isDisposed'), arity('isDisposed', [1, 2], '1 argument')],
  backward: [
    {
      label: 'a string for the roots',
      call: (n) => n.backward('x' as never, undefined, false, false),
      error: /^backward argument 'roots': expected an array of Tensors, got a string$/,
    },
    {
      label: 'a number among the roots',
      call: (n) => n.backward([42 as never], undefined, false, false),
      error: /^backward argument 'roots'\[0\]: expected a Tensor, got the number 42$/,
    },
    {
      label: 'a root without grad (libtorch refuses)',
      call: (n, t) => n.backward([t.f32], undefined, false, false),
      error: /^backward: element 0 of tensors does not require grad and does not have a grad_fn$/,
    },
    arity('backward', [[]], '4 arguments'),
  ],
  autogradGrad: [
    {
      label: 'a disposed input',
      call: (n, t) => n.autogradGrad([t.needsGrad], [t.disposed], undefined, false, false, false),
      error: /^autogradGrad argument 'inputs'\[0\]: tensor was used after dispose\(\)$/,
    },
    {
      label: 'an input the output does not use (libtorch refuses)',
      call: (n, t) => n.autogradGrad([n.callOp(t.sum, t.needsGrad) as Handle], [t.f32], undefined, false, false, false),
      error: /^autogradGrad: One of the differentiated Tensors does not require grad$/,
    },
    arity('autogradGrad', [[], []], '6 arguments'),
  ],
  setGradEnabled: [arity('setGradEnabled', [], '1 argument')],
  manualSeed: [
    {
      label: 'a string',
      call: (n) => n.manualSeed('1' as never),
      error: /^manualSeed argument 'seed': expected an integer, got a string$/,
    },
    {
      label: 'a fraction',
      call: (n) => n.manualSeed(0.5),
      error: /^manualSeed argument 'seed': expected an integer, got the number 0\.5$/,
    },
  ],
  numThreads: [
    {
      label: '-1',
      call: (n) => n.numThreads(-1),
      error: /^numThreads argument 'threads': expected a thread count of at least 1, got -1$/,
    },
    {
      label: '0',
      call: (n) => n.numThreads(0),
      error: /^numThreads argument 'threads': expected a thread count of at least 1, got 0$/,
    },
    {
      label: '1.5',
      call: (n) => n.numThreads(1.5),
      error: /^numThreads argument 'threads': expected an integer, got the number 1\.5$/,
    },
    {
      label: 'NaN',
      call: (n) => n.numThreads(NaN),
      error: /^numThreads argument 'threads': expected an integer, got the number NaN$/,
    },
    {
      label: 'a string',
      call: (n) => n.numThreads('2' as never),
      error: /^numThreads argument 'threads': expected an integer, got a string$/,
    },
    arity('numThreads', [1, 2], '0 to 1 arguments'),
  ],
  liveHandles: [arity('liveHandles', [1], '0 arguments')],
  accountedBytes: [arity('accountedBytes', [1], '0 arguments')],
  runtimeInfo: [arity('runtimeInfo', [1], '0 arguments')],
  resolveOp: [
    {
      label: 'an unknown operator',
      call: (n) => n.resolveOp('aten::no_such_op', ''),
      error: /^resolveOp: unknown operator aten::no_such_op in this libtorch$/,
    },
    {
      label: 'an unknown overload',
      call: (n) => n.resolveOp('aten::add', 'Nope'),
      error: /^resolveOp: unknown operator aten::add\.Nope in this libtorch$/,
    },
    {
      label: 'a number for the name',
      call: (n) => n.resolveOp(1 as never, ''),
      error: /^resolveOp argument 'name': expected a string, got the number 1$/,
    },
    arity('resolveOp', ['aten::add'], '2 arguments'),
  ],
  opSchema: [
    {
      label: 'an id never resolved',
      call: (n) => n.opSchema(1e6),
      error: /^opSchema argument 'id': 1000000 is no operator id from resolveOp \(\d+ resolved\)$/,
    },
    { label: '-1', call: (n) => n.opSchema(-1), error: /^opSchema argument 'id': -1 is no operator id from resolveOp/ },
    {
      label: 'a string',
      call: (n) => n.opSchema('0' as never),
      error: /^opSchema argument 'id': expected an integer, got a string$/,
    },
  ],
  callOp: [
    {
      label: 'an id never resolved',
      call: (n, t) => n.callOp(1e6, t.f32),
      error: /^callOp argument 'id': 1000000 is no operator id from resolveOp \(\d+ resolved\)$/,
    },
    arity('callOp', [], 'at least 1 argument'),
    {
      label: 'a string for a tensor argument',
      call: (n, t) => n.callOp(t.add, t.f32, 'x'),
      error: /^aten::add\.Tensor argument 'other' \(Tensor\): expected a Tensor, got a string$/,
    },
    {
      label: 'a disposed tensor argument',
      call: (n, t) => n.callOp(t.add, t.disposed, t.f32),
      error: /^aten::add\.Tensor argument 'self' \(Tensor\): tensor was used after dispose\(\)$/,
    },
    {
      label: 'shapes that do not broadcast (libtorch refuses)',
      call: (n, t) => n.callOp(t.add, t.f32, f32(n, [1, 2, 3])),
      error:
        /^aten::add: The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton dimension 0$/,
    },
    {
      label: 'too many arguments',
      call: (n, t) => n.callOp(t.add, t.f32, t.f32, 1, 2),
      error: /^aten::add: takes 3 arguments, got 4$/,
    },
  ],
  // c10d (native/c10d.cc): the checks that refuse before anything is sent; a number stands in for the group.
  c10dInit: [
    {
      label: 'port 0',
      call: (n) => n.c10dInit('127.0.0.1', 0, 0, 2, 1000),
      error: /^c10dInit argument 'port': expected 1 to 65535, got 0$/,
    },
    {
      label: 'a rank outside the world',
      call: (n) => n.c10dInit('127.0.0.1', 29500, 2, 2, 1000),
      error: /^c10dInit argument 'rank': expected 0 to 1 in a world of 2, got 2$/,
    },
    {
      label: 'an empty world',
      call: (n) => n.c10dInit('127.0.0.1', 29500, 0, 0, 1000),
      error: /^c10dInit argument 'worldSize': expected at least 1, got 0$/,
    },
    {
      label: 'a zero timeout',
      call: (n) => n.c10dInit('127.0.0.1', 29500, 0, 1, 0),
      error: /^c10dInit argument 'timeoutMs': expected at least 1 ms, got 0$/,
    },
    {
      label: 'a number for the host',
      call: (n) => n.c10dInit(1 as never, 29500, 0, 1, 1000),
      error: /^c10dInit argument 'host': expected a string, got the number 1$/,
    },
    arity('c10dInit', ['127.0.0.1'], '5 arguments'),
  ],
  c10dClose: [notGroup('c10dClose', () => []), arity('c10dClose', [], '1 argument')],
  c10dAllReduce: [notGroup('c10dAllReduce', (t) => [[t.f32], 'sum', 1000]), arity('c10dAllReduce', [1], '4 arguments')],
  c10dBroadcast: [notGroup('c10dBroadcast', (t) => [[t.f32], 0, 1000]), arity('c10dBroadcast', [1], '4 arguments')],
  c10dAllGather: [notGroup('c10dAllGather', (t) => [[t.f32], t.f32, 1000]), arity('c10dAllGather', [1], '4 arguments')],
  c10dReduceScatter: [
    notGroup('c10dReduceScatter', (t) => [t.f32, t.f32, 'sum', 1000]),
    arity('c10dReduceScatter', [1], '5 arguments'),
  ],
  c10dBarrier: [notGroup('c10dBarrier', () => [1000]), arity('c10dBarrier', [1], '2 arguments')],
  c10dDeadRanks: [notGroup('c10dDeadRanks', () => [1000]), arity('c10dDeadRanks', [1], '2 arguments')],
  c10dReducer: [notGroup('c10dReducer', (t) => [[t.needsGrad], 1024]), arity('c10dReducer', [1], '3 arguments')],
  c10dPrepareBackward: [
    {
      label: 'a tensor for the reducer',
      call: (n, t) => n.c10dPrepareBackward(t.f32 as never),
      error: /^c10dPrepareBackward argument 'reducer': expected a reducer, got a Tensor$/,
    },
    arity('c10dPrepareBackward', [], '1 argument'),
  ],
};

// Child: runs every case and prints what each threw, then shows the addon still computes.
async function child(): Promise<void> {
  const native = (await import('../../src/torch/native.js')).native as Native;
  const fixtures: Fixtures = {
    f32: f32(native, [1, 2]),
    disposed: f32(native, [1, 2]),
    long: native.fromTypedArray(new BigInt64Array(2), [2], 4),
    needsGrad: f32(native, [3, 4]),
    add: native.resolveOp('aten::add', 'Tensor'),
    sum: native.resolveOp('aten::sum', ''),
  };
  native.dispose(fixtures.disposed);
  native.requiresGrad(fixtures.needsGrad, true);
  const results = [];
  for (const [entry, list] of Object.entries(cases))
    for (const c of list) {
      try {
        c.call(native, fixtures);
        results.push({ entry, label: c.label, threw: false });
      } catch (err) {
        results.push({
          entry,
          label: c.label,
          threw: true,
          name: (err as Error).name,
          message: (err as Error).message,
        });
      }
    }
  const sum = native.itemOf(
    native.callOp(fixtures.sum, native.callOp(fixtures.add, fixtures.f32, fixtures.f32, 1) as Handle) as Handle,
  );
  console.log(JSON.stringify({ exports: Object.keys(native).sort(), results, sum, threads: native.numThreads() }));
}

// Child with a bad OMP_NUM_THREADS: loading the addon refuses it by name.
async function childLoad(): Promise<void> {
  try {
    await import('../../src/torch/native.js');
    console.log(JSON.stringify({ loaded: true }));
  } catch (err) {
    console.log(JSON.stringify({ loaded: false, message: (err as Error).message }));
  }
}

function runChild(mode: string, env: Record<string, string> = {}): unknown {
  const environment: NodeJS.ProcessEnv = { ...process.env, ...env, LLAVA_BOUNDARY_CHILD: mode };
  delete environment.NODE_TEST_CONTEXT; // the child is a plain script, not a test file
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { env: environment, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child exited with status ${r.status}, signal ${r.signal}:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

function parent(): void {
  test('every entry point turns bad arguments and libtorch errors into JS errors naming the call, and lives', () => {
    type Result = { entry: string; label: string; threw: boolean; name?: string; message?: string };
    const out = runChild('cases') as { exports: string[]; results: Result[]; sum: number; threads: number };
    assert.deepEqual(out.exports, Object.keys(cases).sort(), 'every export of the addon has cases, and only those');
    for (const r of out.results) {
      const c = cases[r.entry as keyof Native].find((x) => x.label === r.label)!;
      assert.ok(r.threw, `${r.entry} (${r.label}) did not throw`);
      assert.match(r.message!, c.error, `${r.entry} (${r.label})`);
      assert.ok(r.name === 'Error' || r.name === 'TypeError', `${r.entry} (${r.label}) threw a ${r.name}`);
    }
    assert.equal(out.results.length, Object.values(cases).flat().length);
    assert.equal(out.sum, 6); // sum(2 * [1, 2]) after every failure: the addon still computes
    assert.ok(out.threads >= 1);
  });

  test('a bad OMP_NUM_THREADS is refused by name when the addon loads, not an abort', () => {
    for (const value of ['-1', '0', 'four']) {
      const out = runChild('load', { OMP_NUM_THREADS: value }) as { loaded: boolean; message?: string };
      assert.equal(out.loaded, false, value);
      assert.equal(
        out.message,
        `OMP_NUM_THREADS=${value} is not a thread count: set it to a positive integer or unset it`,
      );
    }
    assert.deepEqual(runChild('load', { OMP_NUM_THREADS: '1' }), { loaded: true });
  });
}

const mode = process.env.LLAVA_BOUNDARY_CHILD;
if (mode === 'cases') await child();
else if (mode === 'load') await childLoad();
else parent();
