// One forward and backward of a random LLaVA (8 decoder layers, 256 wide, 4 × 256 tokens), plain or with
// activation recompute, printing the peak resident memory the step added: node recompute-child.js plain|recompute
import { readFileSync, writeFileSync } from 'node:fs';
import { LlavaForConditionalGeneration, llavaConfig } from '../../src/models/index.js';
import { manualSeed, randint, randn } from '../../src/torch/index.js';
import { applyStage } from '../../src/train/trainability.js';
import { forwardBackwardRecompute } from '../../src/train/recompute.js';

// `node --test dist/test/` runs every file under test/ as a test: without arguments there is nothing to do.
if (process.argv.length < 3) process.exit(0);

const kb = (field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
manualSeed(0);
const model = new LlavaForConditionalGeneration(
  llavaConfig({
    model_type: 'llava',
    image_token_index: 999,
    text_config: {
      vocab_size: 1000,
      hidden_size: 256,
      intermediate_size: 688,
      num_hidden_layers: 8,
      num_attention_heads: 8,
      pad_token_id: 0,
    },
    vision_config: {
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      image_size: 32,
      patch_size: 8,
      projection_dim: 64,
    },
  }),
);
applyStage(model, 'finetune');
const inputIds = randint(3, 990, [4, 256]);
inputIds.narrow(1, 1, 1).fill_(999);
const batch = { inputIds, attentionMask: inputIds.ne(0), labels: inputIds.clone(), pixelValues: randn([4, 3, 32, 32]) };
writeFileSync('/proc/self/clear_refs', '5'); // reset the peak (VmHWM) to the current RSS
const before = kb('VmRSS');
if (process.argv[2] === 'recompute') forwardBackwardRecompute(model, batch, 1);
else model.forward(batch).loss!.backward();
console.log(JSON.stringify({ added: kb('VmHWM') - before }));
