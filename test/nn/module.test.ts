import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { Conv2d, Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, RMSNorm } from '../../src/nn/index.js';
import { assertTensorClose as close } from '../helpers/close.js';

class Block extends Module {
  readonly norm = this.registerModule('norm', new LayerNorm(4));
  readonly proj = this.registerModule('proj', new Linear(4, 3, false));
}
class Net extends Module {
  readonly embed_tokens = this.registerModule('embed_tokens', new Embedding(10, 4));
  readonly layers = this.registerModule('layers', new ModuleList([new Block(), new Block()]));
  readonly scale = this.registerBuffer('scale', T.full([1], 2));
  readonly cache = this.registerBuffer('cache', T.zeros([2]), false);
}

test('parameter and buffer names are checkpoint keys; non-persistent buffers stay out of the state dict', () => {
  const net = new Net();
  assert.deepEqual(
    net.namedParameters().map(([n]) => n),
    [
      'embed_tokens.weight',
      'layers.0.norm.weight',
      'layers.0.norm.bias',
      'layers.0.proj.weight',
      'layers.1.norm.weight',
      'layers.1.norm.bias',
      'layers.1.proj.weight',
    ],
  );
  assert.deepEqual([...net.stateDict().keys()].slice(-1), ['scale']);
  assert.ok(!net.stateDict().has('cache'));
  assert.deepEqual(
    net.namedBuffers().map(([n]) => n),
    ['scale', 'cache'],
  );
});

test('loadStateDict copies values, lists missing and unexpected keys, names shape mismatches', () => {
  const a = new Net(),
    b = new Net();
  b.loadStateDict(a.stateDict());
  for (const [name, p] of b.stateDict())
    assert.deepEqual(
      Array.from(p.toTypedArray() as Float32Array),
      Array.from(a.stateDict().get(name)!.toTypedArray() as Float32Array),
      name,
    );

  const partial = new Map(a.stateDict());
  partial.delete('layers.1.proj.weight');
  partial.set('lm_head.weight', T.zeros([2]));
  assert.throws(
    () => b.loadStateDict(partial),
    (e: Error) =>
      /missing keys \(1\): layers\.1\.proj\.weight/.test(e.message) &&
      /unexpected keys \(1\): lm_head\.weight/.test(e.message),
  );
  const result = b.loadStateDict(partial, { strict: false });
  assert.deepEqual(result, { missingKeys: ['layers.1.proj.weight'], unexpectedKeys: ['lm_head.weight'] });

  const wrong = new Map(a.stateDict());
  wrong.set('layers.0.proj.weight', T.zeros([4, 3]));
  assert.throws(
    () => b.loadStateDict(wrong),
    /'layers\.0\.proj\.weight' has shape \[4,3\] in the state dict but \[3,4\] in the model/,
  );
});

test('loadStateDict casts dtype (bf16 checkpoint into an fp32 model)', () => {
  const lin = new Linear(2, 1, false);
  lin.loadStateDict({ weight: T.tensor(new Uint16Array([0x3f80, 0xc020]), [1, 2], 'bfloat16') });
  close(lin.weight, [1, -2.5], [1, 2]);
  assert.equal(lin.weight.dtype, 'float32');
});

test('to() casts floating parameters in place, keeping their identity', () => {
  const net = new Net();
  const w = net.layers.items[0]!.proj.weight;
  net.to('bfloat16');
  assert.equal(w.dtype, 'bfloat16');
  assert.equal(net.stateDict().get('scale')!.dtype, 'bfloat16');
  assert.equal(w.requiresGrad, true);
});

test('freeze/unfreeze and train/eval reach every submodule', () => {
  const net = new Net();
  net.layers.freeze();
  assert.deepEqual(
    net.parameters().map((p) => p.requiresGrad),
    [true, false, false, false, false, false, false],
  );
  net.unfreeze();
  assert.ok(net.parameters().every((p) => p.requiresGrad));
  net.eval();
  assert.ok([...net.namedModules()].every(([, m]) => !m.training));
});

test('default initialisations: Linear and Conv2d U(±1/√fan_in), LayerNorm/RMSNorm ones and zeros', () => {
  T.manualSeed(0);
  const lin = new Linear(100, 50);
  const w = Array.from(lin.weight.toTypedArray() as Float32Array);
  assert.ok(w.every((v) => Math.abs(v) <= 0.1) && Math.max(...w) > 0.09 && Math.min(...w) < -0.09);
  const conv = new Conv2d(3, 8, 4, 4);
  const c = Array.from(conv.weight.toTypedArray() as Float32Array);
  assert.ok(c.every((v) => Math.abs(v) <= 1 / Math.sqrt(48)));
  close(new LayerNorm(3).bias, [0, 0, 0], [3]);
  close(new RMSNorm(3).weight, [1, 1, 1], [3]);
});

test('layers compute what they say', () => {
  const lin = new Linear(2, 1);
  lin.loadStateDict({ weight: T.tensor([2, 3], [1, 2]), bias: T.tensor([1]) });
  close(lin.forward(T.tensor([1, 1, 2, 0], [2, 2])), [6, 5], [2, 1]);
  // RMSNorm of [3, 4]: rms = √(12.5), so [3, 4]/√12.5 times weight 2
  const rms = new RMSNorm(2, 0);
  rms.weight.requiresGrad = false;
  rms.weight.fill_(2);
  close(rms.forward(T.tensor([3, 4])), [6 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)], [2], { atol: 1e-6 });
  const drop = new Dropout(0.5).eval();
  close(drop.forward(T.tensor([1, 2])), [1, 2], [2]);
  assert.throws(() => new Dropout(1.5), /p must be in \[0, 1\]/);
});
