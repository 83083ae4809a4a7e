// One stage-1 Trainer step of a LLaVA whose logits dominate its memory (vocabulary 32000, 2 × 256 tokens, 2
// narrow layers), after a warm-up step, printing the peak resident memory the step added and the size of the
// logits [B, T, V] in float32: node step-memory-child.js run
import { readFileSync, writeFileSync } from 'node:fs';
import { LlavaForConditionalGeneration, llavaConfig } from '../../src/models/index.js';
import { manualSeed, onesLike, randint, randn } from '../../src/torch/index.js';
import { optimizerGroups, noDecayNames } from '../../src/train/param-groups.js';
import { applyStage } from '../../src/train/trainability.js';
import { Trainer, type MicroBatchSource } from '../../src/train/trainer.js';

// `node --test dist/test/` runs every file under test/ as a test: without arguments there is nothing to do.
if (process.argv.length < 3) process.exit(0);

const kb = (field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
manualSeed(0);
const [B, T, V] = [2, 256, 32000];
const model = new LlavaForConditionalGeneration(
  llavaConfig({
    model_type: 'llava',
    image_token_index: V - 1,
    text_config: {
      vocab_size: V,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      pad_token_id: 0,
    },
    vision_config: {
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      image_size: 32,
      patch_size: 8,
      projection_dim: 32,
    },
  }),
);
const { parameters } = applyStage(model, 'pretrain');
const inputIds = randint(3, V - 10, [B, T - model.imageSeqLength + 1]);
inputIds.narrow(1, 1, 1).fill_(V - 1);
const pixelValues = randn([B, 3, 32, 32]);
const source: MicroBatchSource = {
  perEpoch: 1000,
  async *epoch() {
    for (;;)
      yield {
        inputIds: inputIds.clone(),
        attentionMask: onesLike(inputIds),
        labels: inputIds.clone(),
        pixelValues: pixelValues.clone(),
      };
  },
};
const trainer = new Trainer(
  model,
  optimizerGroups(parameters, noDecayNames(model), { lr: 1e-3, weightDecay: 0 }),
  source,
  {
    epochs: 1,
    gradientAccumulationSteps: 1,
    maxGradNorm: 1,
    scheduler: 'constant',
    warmupRatio: 0,
    betas: [0.9, 0.999],
    eps: 1e-8,
    lossScaling: 'mean',
    seed: 0,
    maxNonFiniteSteps: 1,
  },
);
await trainer.trainStep(); // optimizer state allocated before the peak is measured
writeFileSync('/proc/self/clear_refs', '5'); // reset the peak (VmHWM) to the current RSS
const before = kb('VmRSS');
await trainer.trainStep();
const added = kb('VmHWM') - before;
await trainer.close();
console.log(JSON.stringify({ added, logits: B * T * V * 4 }));
