// `llava demo`: the main job for now: doctor, then training steps of a tiny model with AdamW,
// printing the loss as it falls. Later it becomes the end-to-end LLaVA demo.
import { AdamW, clipGradNorm, Linear, Module } from '../nn/index.js';
import { crossEntropy, gelu, manualSeed, randint, randn, scope, type Tensor } from '../torch/index.js';
import { run as doctor } from './doctor.js';

class TinyMlp extends Module {
  readonly fc1 = this.registerModule('fc1', new Linear(32, 64));
  readonly fc2 = this.registerModule('fc2', new Linear(64, 10));
  /** x [B, 32] -> logits [B, 10] */
  forward(x: Tensor): Tensor {
    return this.fc2.forward(gelu(this.fc1.forward(x)));
  }
}

export async function run(argv: string[]): Promise<number> {
  const steps = Number(argv[argv.indexOf('--steps') + 1]) || 50;
  await doctor([]);
  console.log(`\ntraining a tiny MLP for ${steps} steps (AdamW, lr 1e-2, seed 0) on a fixed batch:`);
  manualSeed(0);
  const model = new TinyMlp();
  const optimizer = new AdamW(model.parameters(), { lr: 1e-2 });
  const x = randn([64, 32]);
  const y = randint(0, 10, [64]);
  let first = NaN,
    last = NaN;
  for (let step = 1; step <= steps; step++) {
    last = scope(() => {
      const loss = crossEntropy(model.forward(x), y);
      loss.backward();
      clipGradNorm(model.parameters(), 1.0);
      optimizer.step();
      optimizer.zeroGrad();
      return loss.item();
    });
    if (step === 1) first = last;
    if (step === 1 || step % 10 === 0) console.log(`  step ${String(step).padStart(4)}  loss ${last.toFixed(4)}`);
  }
  console.log(
    last < first
      ? `ok: loss fell from ${first.toFixed(4)} to ${last.toFixed(4)}`
      : `!! loss did not fall (${first} -> ${last})`,
  );
  return last < first ? 0 : 1;
}
