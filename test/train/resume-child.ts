// A training run of the tiny LLaVA on the golden fixture data, checkpointing after every step, for the resume test
// to SIGKILL and restart: node resume-child.js <out> <stage finetune|lora> <seed> <resume 0|1>. Prints one JSON
// line per step ({step, loss, gradNorm}) after its checkpoint is written, and writes the final trainable weights
// to <out>/final.safetensors.
import { join } from 'node:path';
import { saveSafetensors } from '../../src/io/tensors.js';
import { manualSeed } from '../../src/torch/index.js';
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { noDecayNames, optimizerGroups } from '../../src/train/param-groups.js';
import { applyStage, type Stage } from '../../src/train/trainability.js';
import { Trainer, type StepMetrics } from '../../src/train/trainer.js';
import { fixtureSource, goldenOptions, loadTiny } from './helpers.js';

// `node --test dist/test/` runs every file under test/ as a test: without arguments there is nothing to do.
if (process.argv.length < 3) process.exit(0);

const [out, stage, seedArg, resume] = process.argv.slice(2) as [string, Stage, string, string];
const seed = Number(seedArg);
manualSeed(seed);
const model = loadTiny();
const { parameters } = applyStage(model, stage, { r: 4, alpha: 8, dropout: 0.1 });
const groups = optimizerGroups(parameters, noDecayNames(model), { lr: 1e-3, weightDecay: 0.1, projectorLr: 5e-4 });
const trainer = new Trainer(model, groups, fixtureSource(), { ...goldenOptions(3), seed });
const fingerprint = { stage, seed, model: 'llava_tiny' };
const history: StepMetrics[] = [];
if (resume === '1') {
  const latest = listCheckpoints(out).at(-1);
  if (latest) history.push(...loadCheckpoint(latest, trainer, parameters, fingerprint).log_history);
}
while (!trainer.done) {
  const m = await trainer.trainStep();
  history.push(m);
  saveCheckpoint(out, trainer, parameters, { fingerprint, logHistory: history, keepLast: 2 });
  console.log(JSON.stringify({ step: m.step, loss: m.loss, gradNorm: m.gradNorm }));
}
await trainer.close();
saveSafetensors(join(out, 'final.safetensors'), Object.fromEntries(parameters));
