// Continuous batching against generation alone: requests that join and leave a shared decode batch at different
// steps produce exactly the tokens each produces alone with model.generate (greedy); a seeded sampled request draws
// the same tokens alone and in company; cancellation ends a request at the next step; a full queue refuses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { LlavaProcessor } from '../../src/serve/processor.js';
import { BatchEngine, QueueFullError, type EngineRequest } from '../../src/serve/engine.js';
import type { ModelInputs } from '../../src/serve/processor.js';
import { coordinates, rawImage } from '../helpers/text-images.js';
import { ids } from '../helpers/golden.js';
import { tempDir, writeSmallLlava } from './helpers.js';

const temp = tempDir('llava-engine-');
const model = writeSmallLlava(temp.dir);
const processor = LlavaProcessor.fromPretrained(temp.dir);
after(() => temp.remove());

const png = (w: number, h: number) => rawImage(coordinates(w, h), w, h, 3).png().toBuffer();
const GREEDY = { temperature: 0, topP: 1, topK: 0 };

async function prompt(question: string, image?: Buffer): Promise<ModelInputs> {
  const content = image ? [{ type: 'image' as const }, { type: 'text' as const, text: question }] : question;
  return processor.process({ messages: [{ role: 'user', content }], images: image ? [image] : [] });
}

/** model.generate alone: the new tokens up to and including EOS. */
async function alone(inputs: ModelInputs, maxNewTokens: number): Promise<number[]> {
  // Copies: generate() disposes the attention mask it is given on the text-only path (reported to the lead).
  const seq = await model.generate({
    inputIds: inputs.inputIds.clone(),
    attentionMask: inputs.attentionMask.clone(),
    pixelValues: inputs.pixelValues?.clone(),
    maxNewTokens,
  });
  const L = inputs.inputIds.size(1);
  const out = ids(seq.narrow(1, L, seq.size(1) - L));
  const eos = out.indexOf(2);
  return eos >= 0 ? out.slice(0, eos + 1) : out;
}

function request(inputs: ModelInputs, maxNewTokens: number, extra: Partial<EngineRequest> = {}): EngineRequest {
  return { inputs, maxNewTokens, sampling: GREEDY, stop: [], ...extra };
}

test('requests joining and leaving a shared batch get the tokens each gets alone (greedy)', async () => {
  const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 4 });
  const prompts = [
    await prompt('Describe the image.', await png(40, 30)),
    await prompt('Hi'),
    await prompt('What colour is the top left corner of this picture, and why?', await png(20, 50)),
    await prompt('A much longer text-only question that makes this prompt longer than the others in the batch'),
    await prompt('Late joiner'),
  ];
  const lengths = [12, 5, 20, 9, 7];
  const expected = await Promise.all(prompts.map((p, i) => alone(p, lengths[i]!)));
  // Five requests for four slots: the fifth waits for the first to leave; the third joins while others decode.
  let lateSubmitted: Promise<unknown> | undefined;
  const results = await Promise.all([
    engine.submit(
      request(prompts[0]!, lengths[0]!, {
        onText: () => {
          lateSubmitted ??= engine.submit(request(prompts[2]!, lengths[2]!));
        },
      }),
    ),
    engine.submit(request(prompts[1]!, lengths[1]!)),
    engine.submit(request(prompts[3]!, lengths[3]!)),
    engine.submit(request(prompts[4]!, lengths[4]!)),
  ]);
  const late = (await lateSubmitted) as (typeof results)[number];
  const got = [results[0]!, results[1]!, late, results[2]!, results[3]!];
  // The premise: the requests decode for many steps and leave at different ones.
  assert.ok(expected.filter((e) => e.length >= 5).length >= 4, JSON.stringify(expected.map((e) => e.length)));
  got.forEach((r, i) => {
    assert.deepEqual(r.tokens, expected[i], `request ${i}`);
    assert.equal(r.finishReason, expected[i]!.at(-1) === 2 ? 'stop' : 'length');
    assert.equal(r.text, processor.tokenizer.decode(expected[i]!, { skipSpecialTokens: true }));
  });
  assert.equal(got[0]!.promptTokens, prompts[0]!.inputIds.size(1));
  engine.close();
});

test('a seeded sampled request draws the same tokens alone and sharing the batch', async () => {
  const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 4 });
  const sampled = { temperature: 0.9, topP: 0.9, topK: 40 };
  const inputs = await prompt('Tell a story.');
  const solo = await engine.submit(request(inputs, 12, { sampling: sampled, seed: 11 }));
  const [shared] = await Promise.all([
    engine.submit(request(inputs, 12, { sampling: sampled, seed: 11 })),
    engine.submit(request(await prompt('Other'), 8, { sampling: { ...sampled, temperature: 1.3 }, seed: 3 })),
    engine.submit(request(await prompt('Greedy one'), 10)),
  ]);
  assert.deepEqual(shared.tokens, solo.tokens);
  const other = await engine.submit(request(inputs, 12, { sampling: sampled, seed: 12 }));
  assert.notDeepEqual(other.tokens, solo.tokens);
  engine.close();
});

test('an aborted request ends at the next step while the others finish unchanged', async () => {
  const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 4 });
  const a = await prompt('Keep going', await png(32, 32));
  const b = await prompt('Stop me early');
  const expected = await alone(a, 16);
  const controller = new AbortController();
  let pieces = 0;
  const [ra, rb] = await Promise.all([
    engine.submit(request(a, 16)),
    engine.submit(
      request(b, 200, {
        signal: controller.signal,
        onText: () => {
          if (++pieces === 2) controller.abort();
        },
      }),
    ),
  ]);
  assert.deepEqual(ra.tokens, expected);
  assert.equal(rb.finishReason, 'cancelled');
  assert.ok(rb.tokens.length < 200, `${rb.tokens.length} tokens`);
  assert.equal(engine.load.active, 0);
  engine.close();
});

test('a full queue refuses with QueueFullError; a prompt past the context is refused by name', async () => {
  const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 1, maxQueue: 1 });
  const inputs = await prompt('Hi');
  const first = engine.submit(request(inputs, 4));
  const second = engine.submit(request(inputs, 4));
  await assert.rejects(engine.submit(request(inputs, 4)), QueueFullError);
  await Promise.all([first, second]);
  await assert.rejects(engine.submit(request(inputs, 400)), /exceed the context of 256/);
  engine.close();
});

test('a request that outlives the one it joined is moved back on the shared timeline when it reaches the end', async () => {
  const a = await prompt('A somewhat longer first request here');
  const b = await prompt('Short');
  const maxB = 20;
  // The context is exactly B's prompt and reply. B joins at column (A's prompt + 3) - B's prompt > 0, so its last
  // steps fit only once the columns A left behind are dropped (else the cache refuses a write past its capacity).
  const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 2, contextLength: b.inputIds.size(1) + maxB });
  assert.ok(a.inputIds.size(1) + 8 <= b.inputIds.size(1) + maxB, 'premise: A fits the context');
  assert.ok(a.inputIds.size(1) > b.inputIds.size(1), 'premise: B joins past column 0');
  const expectedA = await alone(a, 8);
  const expectedB = await alone(b, maxB);
  assert.equal(expectedB.length, maxB, 'premise: no EOS before the limit');
  let joined: ReturnType<BatchEngine['submit']> | undefined;
  let pieces = 0;
  const ra = await engine.submit(
    request(a, 8, {
      onText: () => {
        if (++pieces === 3) joined = engine.submit(request(b, maxB));
      },
    }),
  );
  assert.deepEqual(ra.tokens, expectedA);
  assert.deepEqual((await joined!).tokens, expectedB);
  engine.close();
});
