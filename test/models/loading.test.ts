// Loading without waste: a non-strict load builds the model on 'meta' and materialises only what
// the checkpoint lacks (seen through libtorch's global generator, which a real build would
// advance for every parameter), and every file a failed load opened is closed again.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/torch/index.js';
import { openSafetensors, saveSafetensors } from '../../src/io/tensors.js';
import { LlamaForCausalLM, LlavaForConditionalGeneration } from '../../src/models/index.js';
import { Module } from '../../src/nn/index.js';
import { golden, maxAbsDiff } from '../helpers/golden.js';
import { writeOriginalLayout } from './original-layout.js';

const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'llava-load-'));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** llama_tiny's config and weights, less the keys in `drop`, with `replace` swapped in. */
function llamaCopy(drop: string[], replace: Record<string, T.Tensor> = {}): string {
  const dir = tmp();
  const src = golden('llama_tiny').dir;
  copyFileSync(join(src, 'config.json'), join(dir, 'config.json'));
  const reader = openSafetensors(src);
  const weights: Record<string, T.Tensor> = {};
  for (const k of reader.names()) if (!drop.includes(k)) weights[k] = reader.readTensor(k);
  reader.close();
  saveSafetensors(join(dir, 'model.safetensors'), { ...weights, ...replace });
  return dir;
}

test('a non-strict load builds on meta and materialises only the missing tensor, initialised as its module does', () => {
  const missing = 'model.layers.1.mlp.down_proj.weight'; // Linear(172 -> 64): U(±1/√172)
  const dir = llamaCopy([missing]);
  T.manualSeed(5);
  const model = LlamaForCausalLM.fromPretrained(dir, { strict: false });
  const drawnAfter = T.randn([8]);
  // The same generator, drawing only that one initialisation: a full real build would have drawn
  // every Linear and Embedding first, and the next draw would differ.
  T.manualSeed(5);
  const bound = 1 / Math.sqrt(172);
  const expected = T.empty([64, 172]).uniform_(-bound, bound);
  assert.equal(maxAbsDiff(model.stateDict().get(missing)!, expected), 0);
  assert.equal(maxAbsDiff(drawnAfter, T.randn([8])), 0, 'the load drew nothing else from the global generator');
  const loaded = model.stateDict().get('model.layers.0.self_attn.q_proj.weight')!;
  assert.equal(loaded.device, 'cpu');
  const reader = openSafetensors(golden('llama_tiny').dir);
  assert.equal(maxAbsDiff(loaded, reader.readTensor('model.layers.0.self_attn.q_proj.weight')), 0);
  reader.close();
  for (const [name, t] of model.stateDict()) assert.equal(t.device, 'cpu', `${name} is materialised`);
});

test('a missing tensor takes the dtype asked for, or with auto the loaded ones', () => {
  const missing = 'model.norm.weight'; // RMSNorm: ones
  const dir = llamaCopy([missing]);
  for (const [dtype, want] of [
    ['bfloat16', 'bfloat16'],
    ['auto', 'float32'],
  ] as const) {
    const model = LlamaForCausalLM.fromPretrained(dir, { strict: false, dtype });
    const w = model.stateDict().get(missing)!;
    assert.equal(w.dtype, want);
    assert.equal(maxAbsDiff(w, T.ones([64])), 0);
    assert.equal(w.requiresGrad, true);
  }
});

test('only parameters with an initialiser can be materialised; unknown keys are named', () => {
  class Bare extends Module {
    readonly w = this.registerParameter('w', T.zeros([2]));
  }
  assert.throws(() => new Bare().materializeParameters(['w'], 'float32'), /'w' was registered without an initialiser/);
  assert.throws(() => new Bare().materializeParameters(['nope'], 'float32'), /no parameters named nope/);
});

/** Files this process holds open whose path starts with `prefix`. */
function openFilesUnder(prefix: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(join('/proc/self/fd', fd));
      if (target.startsWith(prefix)) out.push(target);
    } catch {
      // the descriptor readdir itself used is gone by now
    }
  }
  return out;
}

test('a failing load closes every file it opened', () => {
  const cases: [string, () => unknown, RegExp][] = [];
  const strictDir = llamaCopy(['model.norm.weight']);
  cases.push(['missing keys', () => LlamaForCausalLM.fromPretrained(strictDir), /missing keys \(1\)/]);
  const shapeDir = llamaCopy([], { 'model.norm.weight': T.zeros([65]) });
  cases.push(['a shape mismatch', () => LlamaForCausalLM.fromPretrained(shapeDir), /has shape \[65\]/]);
  const { root, dir: original } = writeOriginalLayout(tmp());
  // The tower's weights are no safetensors file, found after the LLM's file is open.
  writeFileSync(join(root, 'clip-tiny', 'model.safetensors'), Buffer.alloc(16, 7));
  cases.push(['a corrupt tower file', () => LlavaForConditionalGeneration.fromPretrained(original), /clip-tiny/]);
  const projectorDir = tmp();
  mkdirSync(join(projectorDir, 'p'));
  const projector = join(projectorDir, 'p', 'mm_projector.safetensors');
  saveSafetensors(projector, {
    'model.mm_projector.0.weight': T.zeros([3, 3]),
    'model.mm_projector.0.bias': T.zeros([64]),
    'model.mm_projector.2.weight': T.zeros([64, 64]),
    'model.mm_projector.2.bias': T.zeros([64]),
  });
  const llava = LlavaForConditionalGeneration.fromPretrained(golden('llava_tiny').dir);
  cases.push(['a projector of the wrong shape', () => llava.loadProjector(projector), /shape/]);
  for (const [what, load, error] of cases) {
    assert.throws(load, error, what);
    assert.deepEqual(openFilesUnder(join(tmpdir(), 'llava-load-')), [], `${what}: files left open`);
  }
});
