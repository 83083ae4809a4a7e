// `llava train` (two-stage visual instruction tuning from a recipe) and `llava merge-lora` (a LoRA output folder
// merged onto its base model as a llava-hf checkpoint, as the reference's scripts/merge_lora_weights.py).
import { parseArgs } from 'node:util';
import { mergeLora } from '../train/merge-lora.js';
import { loadRecipe, RecipeError } from '../train/recipe.js';
import type { MetricsLine } from '../train/report.js';
import { dryRun, runTraining } from '../train/run.js';

const HELP = `usage: llava train --recipe FILE [--set key=value ...] [--resume | --resume-from DIR] [--dry-run]

Trains LLaVA from a recipe (YAML or JSON, the reference's flag names: stage, model_name_or_path, data_path,
learning_rate, mm_projector_lr, gradient_accumulation_steps, ...; see recipes/). Writes checkpoint-<step>/
folders, metrics.jsonl and report.html to output_dir, then the stage's outputs: mm_projector.bin (pretrain),
a llava-hf checkpoint (finetune), or a PEFT adapter folder (lora).

  --recipe FILE       the recipe
  --set key=value     override one recipe key (repeatable); the value is read as YAML
  --resume            continue from the latest checkpoint in output_dir
  --resume-from DIR   continue from this checkpoint folder
  --dry-run           print the resolved recipe, parameter counts and the memory estimate, then exit
  --no-progress       no progress line on stderr
Ctrl-C ends the current step, writes a checkpoint and exits with 130.`;

const MERGE_HELP = `usage: llava merge-lora --model-path ADAPTER_DIR --model-base BASE_DIR --save-model-path OUT_DIR

Loads the base model, the adapter folder's non_lora_trainables and LoRA weights (PEFT layout), merges
W + B·A·alpha/r and writes a llava-hf checkpoint (config, sharded safetensors, tokenizer files).`;

function progressLine(m: MetricsLine, total: number, started: number, startStep: number): string {
  const elapsed = (performance.now() - started) / 1000;
  const eta = ((total - m.step) * elapsed) / Math.max(1, m.step - startStep);
  return `step ${m.step}/${total}  loss ${m.loss.toFixed(4)}  lr ${m.lr.toExponential(2)}  grad norm ${m.grad_norm.toFixed(3)}  ${m.tokens_per_second.toFixed(0)} tokens/s  ETA ${eta.toFixed(0)} s`;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      recipe: { type: 'string' },
      set: { type: 'string', multiple: true },
      resume: { type: 'boolean' },
      'resume-from': { type: 'string' },
      'dry-run': { type: 'boolean' },
      'no-progress': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (!v.recipe) {
    console.error(`llava train: --recipe is required\n\n${HELP}`);
    return 2;
  }
  let recipe;
  try {
    recipe = loadRecipe(v.recipe, v.set ?? []);
  } catch (err) {
    if (err instanceof RecipeError) {
      console.error(`llava train: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (v['dry-run']) {
    dryRun(recipe, (line) => console.log(line));
    return 0;
  }
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130); // a second Ctrl-C abandons the step
    console.error('\nCtrl-C: finishing this step and writing a checkpoint (Ctrl-C again to abandon it)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const started = performance.now();
  let startStep: number | undefined;
  const showProgress = !v['no-progress'] && process.stderr.isTTY;
  try {
    const status = await runTraining(recipe, {
      resume: v['resume-from'] ?? (v.resume ? true : undefined),
      log: (line) => console.error(showProgress ? `\r\x1b[K${line}` : line),
      progress: (m, total) => {
        startStep ??= m.step - 1;
        const line = progressLine(m, total, started, startStep);
        if (showProgress) process.stderr.write(`\r\x1b[K${line}`);
        else console.error(line);
      },
      signal: controller.signal,
    });
    if (showProgress) process.stderr.write('\n');
    return status === 'interrupted' ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export async function runMergeLora(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'model-path': { type: 'string' },
      'model-base': { type: 'string' },
      'save-model-path': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(MERGE_HELP);
    return 0;
  }
  if (!v['model-path'] || !v['model-base'] || !v['save-model-path']) {
    console.error(`llava merge-lora: --model-path, --model-base and --save-model-path are required\n\n${MERGE_HELP}`);
    return 2;
  }
  mergeLora({ modelPath: v['model-path'], modelBase: v['model-base'], saveModelPath: v['save-model-path'] });
  console.error(`merged ${v['model-path']} onto ${v['model-base']}: ${v['save-model-path']}`);
  return 0;
}
