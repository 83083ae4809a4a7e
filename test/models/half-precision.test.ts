// fp16 and bf16 checkpoints on CPU, where libtorch 1.13 has no Half kernels for linear or layer
// norm: dtype 'auto' computes fp16 weights in float32 (saying so once), bf16 weights stay bf16,
// and float16 asked for explicitly is refused before anything is read.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/torch/index.js';
import { CLIPVisionModel, LlamaForCausalLM, LlavaForConditionalGeneration } from '../../src/models/index.js';
import { golden, maxAbsDiff } from '../helpers/golden.js';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

type Loadable = typeof LlamaForCausalLM | typeof LlavaForConditionalGeneration;
const models: [string, Loadable][] = [
  ['llama_tiny', LlamaForCausalLM],
  ['llava_tiny', LlavaForConditionalGeneration],
];

/** The golden float32 checkpoint `name`, stored in `dtype` in a temporary folder. */
function storedAs(name: string, model: Loadable, dtype: 'float16' | 'bfloat16'): string {
  const dir = mkdtempSync(join(tmpdir(), `llava-${dtype}-`));
  made.push(dir);
  model.fromPretrained(golden(name).dir).to(dtype).savePretrained(dir);
  return dir;
}

function goldenLogitsError(name: string, model: LlamaForCausalLM | LlavaForConditionalGeneration): number {
  const { fixture } = golden(name);
  const input = {
    inputIds: fixture('input_ids'),
    attentionMask: fixture('attention_mask'),
    pixelValues: name === 'llava_tiny' ? fixture('pixel_values') : undefined,
  };
  const logits = T.noGrad(() => model.forward(input).logits);
  return maxAbsDiff(logits, fixture('logits'), name === 'llama_tiny' ? fixture('attention_mask') : undefined);
}

// Tolerances. A weight stored in fp16 (10 mantissa bits) or bf16 (7) is the float32 weight times
// (1 + e) with |e| <= u, u = 2^-11 or 2^-8 (round to nearest). A logit comes out of about 8
// rounded weight tensors applied in sequence (embedding; per layer the attention and MLP
// projections and their norms, two layers; lm_head; for LLaVA the projector and tower in front),
// so to first order its error is at most 8·u·max|logit| when every perturbation lines up.
// Computing in bf16 rounds every activation too, about as often again: 16·u·max|logit|.
// (Measured: about a quarter of each bound; a wrong reading of the 16-bit data misses by whole logits.)
const U_FP16 = 2 ** -11;
const U_BF16 = 2 ** -8;
const bound = (name: string, factor: number, u: number) =>
  factor * u * golden(name).fixture('logits').abs().max().item();

async function warningsDuring(fn: () => void): Promise<Error[]> {
  const seen: Error[] = [];
  const listener = (w: Error) => seen.push(w);
  process.on('warning', listener);
  try {
    fn();
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
  } finally {
    process.off('warning', listener);
  }
  return seen.filter((w) => /float16/.test(w.message));
}

test('libtorch on this machine has no Half kernel for linear on CPU (the premise)', () => {
  const h = T.zeros([2, 2], { dtype: 'float16' });
  assert.throws(() => T.linear(h, h), /not implemented for 'Half'/);
});

for (const [name, model] of models) {
  test(`${name} stored in fp16: dtype auto computes in float32 on CPU, with one warning; bfloat16 when asked`, async () => {
    const dir = storedAs(name, model, 'float16');
    let loaded: LlamaForCausalLM | LlavaForConditionalGeneration | undefined;
    const warnings = await warningsDuring(() => (loaded = model.fromPretrained(dir, { dtype: 'auto' })));
    assert.equal(warnings.length, 1, 'one warning for the whole checkpoint');
    assert.match(warnings[0]!.message, /float16 weights are computed in float32 on CPU/);
    assert.ok(loaded!.parameters().every((p) => p.dtype === 'float32'));
    const err = goldenLogitsError(name, loaded!);
    assert.ok(err <= bound(name, 8, U_FP16), `fp16 weights, float32 compute: ${err}`);

    const bf16 = model.fromPretrained(dir, { dtype: 'bfloat16' });
    assert.ok(bf16.parameters().every((p) => p.dtype === 'bfloat16'));
    const errBf16 = goldenLogitsError(name, bf16);
    assert.ok(errBf16 <= bound(name, 16, U_BF16), `fp16 weights, bf16 compute: ${errBf16}`);
  });

  test(`${name} stored in bf16: auto computes in bf16, float32 when asked`, async () => {
    const dir = storedAs(name, model, 'bfloat16');
    let auto: LlamaForCausalLM | LlavaForConditionalGeneration | undefined;
    const warnings = await warningsDuring(() => (auto = model.fromPretrained(dir, { dtype: 'auto' })));
    assert.equal(warnings.length, 0);
    assert.ok(auto!.parameters().every((p) => p.dtype === 'bfloat16'));
    const errAuto = goldenLogitsError(name, auto!);
    assert.ok(errAuto <= bound(name, 16, U_BF16), `bf16 compute: ${errAuto}`);
    const errF32 = goldenLogitsError(name, model.fromPretrained(dir, { dtype: 'float32' }));
    assert.ok(errF32 <= bound(name, 8, U_BF16), `bf16 weights, float32 compute: ${errF32}`);
  });
}

test('float16 asked for on CPU is refused before loading, with the reason', () => {
  const nowhere = join(tmpdir(), 'llava-no-such-checkpoint');
  for (const load of [LlamaForCausalLM, CLIPVisionModel, LlavaForConditionalGeneration])
    assert.throws(
      () => load.fromPretrained(nowhere, { dtype: 'float16' }),
      /dtype float16 on CPU: this libtorch has no CPU kernels for Half .*not implemented for 'Half'.*use 'float32' or 'bfloat16'/s,
    );
});

test("float16 for another device is not refused by the CPU rule: loaded onto 'meta', every parameter lands there in float16", () => {
  const model = LlamaForCausalLM.fromPretrained(golden('llama_tiny').dir, { dtype: 'float16', device: 'meta' });
  for (const [name, p] of model.stateDict()) {
    assert.equal(p.device, 'meta', name);
    assert.equal(p.dtype, 'float16', name);
  }
});
