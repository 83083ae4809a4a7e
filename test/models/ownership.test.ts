// Tensors given to the models stay the caller's: forward and generate neither dispose them nor
// keep them past the caller's own scope (keep() would exempt them from it for good).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/torch/index.js';
import { LlamaForCausalLM, LlavaForConditionalGeneration } from '../../src/models/index.js';
import { golden } from '../helpers/golden.js';

const llama = LlamaForCausalLM.fromPretrained(golden('llama_tiny').dir);
const llava = LlavaForConditionalGeneration.fromPretrained(golden('llava_tiny').dir);

/** Fresh copies of llava_tiny's inputs, with the values they must still hold afterwards. */
function inputs(withImages: boolean): { given: Record<string, T.Tensor>; values: Record<string, unknown[]> } {
  const { fixture } = golden('llava_tiny');
  const ids = fixture('input_ids');
  const given: Record<string, T.Tensor> = {
    inputIds: withImages ? ids : ids.maskedFill(ids.eq(500), 7),
    attentionMask: fixture('attention_mask'),
    labels: fixture('labels'),
  };
  if (withImages) given.pixelValues = fixture('pixel_values');
  const values = Object.fromEntries(
    Object.entries(given).map(([k, t]) => [k, Array.from(t.toTypedArray() as Iterable<unknown>)]),
  );
  return { given, values };
}

function assertUsable(given: Record<string, T.Tensor>, values: Record<string, unknown[]>, what: string): void {
  for (const [k, t] of Object.entries(given)) {
    assert.equal(t.isDisposed, false, `${what}: ${k} was disposed`);
    assert.deepEqual(Array.from(t.toTypedArray() as Iterable<unknown>), values[k], `${what}: ${k} changed`);
  }
}

const calls: [string, (input: Record<string, T.Tensor>) => unknown][] = [
  [
    'LlamaForCausalLM.forward',
    (i) => llama.forward({ inputIds: i.inputIds, attentionMask: i.attentionMask, labels: i.labels }),
  ],
  [
    'LlamaForCausalLM.generate',
    (i) => llama.generate({ inputIds: i.inputIds!, attentionMask: i.attentionMask, maxNewTokens: 3 }),
  ],
  ['LlavaForConditionalGeneration.forward', (i) => llava.forward({ ...i, inputIds: i.inputIds! })],
  ['LlavaForConditionalGeneration.generate', (i) => llava.generate({ ...i, inputIds: i.inputIds!, maxNewTokens: 3 })],
];

for (const [name, call] of calls) {
  for (const withImages of name.startsWith('Llava') ? [false, true] : [false]) {
    const what = `${name}${withImages ? ' with images' : ''}`;
    test(`${what}: every input tensor is usable and unchanged afterwards`, async () => {
      const { given, values } = inputs(withImages);
      await call(given);
      assertUsable(given, values, what);
      await call(given); // and usable again as an input
      assertUsable(given, values, `${what}, second call`);
    });

    test(`${what}: no input tensor outlives the caller's scope`, async () => {
      let given: Record<string, T.Tensor> = {};
      let pending: unknown;
      T.scope(() => {
        given = inputs(withImages).given;
        pending = call(given);
      });
      for (const [k, t] of Object.entries(given)) assert.equal(t.isDisposed, true, `${what} kept ${k}`);
      await pending; // a generation still finishes: it needs the inputs only for its first step
    });
  }
}
