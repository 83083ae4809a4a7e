// `llava train` (two-stage visual instruction tuning from a recipe) and `llava merge-lora` (a LoRA output folder
// merged onto its base model as a llava-hf checkpoint, as the reference's scripts/merge_lora_weights.py).
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isDistributedEnv, launch, ProcessGroup, RankExitError } from '../distributed/index.js';
import { mergeLora } from '../train/merge-lora.js';
import { loadRecipe, RecipeError } from '../train/recipe.js';
import type { MetricsLine } from '../train/report.js';
import { dryRun, runTraining } from '../train/run.js';

const HELP = `usage: llava train --recipe FILE [--set key=value ...] [--resume | --resume-from DIR] [--dry-run]
                   [--nproc-per-node N [--nnodes M --node-rank I --master-addr HOST --master-port PORT]]

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
  --nproc-per-node N  start N ranks on this machine (torchrun's flags and variables); every rank trains its share
                      of each global batch (per_device_train_batch_size × gradient_accumulation_steps, which N
                      must divide), rank 0 writes. zero_stage: 1 or 2 in the recipe shards the optimizer state.
  --nnodes M, --node-rank I, --master-addr HOST, --master-port PORT
                      a run over M machines: the same command on each, I = 0 … M-1, HOST:PORT reachable on node 0
Without --nproc-per-node, a process started with torchrun's MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE and
LOCAL_RANK joins that rendezvous as one rank.
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
      'nproc-per-node': { type: 'string' },
      nnodes: { type: 'string' },
      'node-rank': { type: 'string' },
      'master-addr': { type: 'string' },
      'master-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (v['nproc-per-node'] !== undefined) return launchRanks(argv, v);
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
  let group: ProcessGroup | undefined;
  if (isDistributedEnv()) {
    try {
      group = await ProcessGroup.fromEnv({ timeoutMs: recipe.ddp_timeout * 1000 });
    } catch (err) {
      console.error(`llava train: ${(err as Error).message}`);
      return 1;
    }
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
      group,
    });
    if (showProgress) process.stderr.write('\n');
    return status === 'interrupted' ? 130 : 0;
  } catch (err) {
    // Another rank's end surfaces here as a failed collective naming it; this rank stops with it.
    if (!group) throw err;
    console.error(`llava train: rank ${group.rank}: ${(err as Error).message}`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    group?.close();
  }
}

const LAUNCH_FLAGS = ['--nproc-per-node', '--nnodes', '--node-rank', '--master-addr', '--master-port'];

/** --nproc-per-node: this command again in N ranks (without the launch flags), as torchrun starts them. */
async function launchRanks(argv: string[], v: Record<string, unknown>): Promise<number> {
  const integer = (name: string, text: unknown, min: number): number => {
    const n = Number(text);
    if (!/^[0-9]+$/.test(String(text)) || n < min)
      throw new RangeError(`llava train: --${name} ${String(text)} is not an integer ≥ ${min}`);
    return n;
  };
  const rankArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    if (!LAUNCH_FLAGS.includes(flag)) rankArgs.push(argv[i]!);
    else if (inline === undefined) i++; // the flag's value
  }
  // A Ctrl-C reaches the ranks from the terminal (one process group): each ends its step and rank 0 writes a
  // checkpoint; the launcher waits for them instead of dying first.
  const waitForRanks = () => {};
  process.on('SIGINT', waitForRanks);
  try {
    await launch({
      script: fileURLToPath(new URL('./main.js', import.meta.url)),
      args: ['train', ...rankArgs],
      nprocPerNode: integer('nproc-per-node', v['nproc-per-node'], 1),
      nnodes: v.nnodes === undefined ? undefined : integer('nnodes', v.nnodes, 1),
      nodeRank: v['node-rank'] === undefined ? undefined : integer('node-rank', v['node-rank'], 0),
      masterAddr: v['master-addr'] as string | undefined,
      masterPort: v['master-port'] === undefined ? undefined : integer('master-port', v['master-port'], 1),
    });
    return 0;
  } catch (err) {
    if (err instanceof RankExitError && err.exits.every((e) => e.code === 130)) return 130;
    if (!(err instanceof RankExitError || err instanceof RangeError)) throw err;
    console.error(`llava train: ${err.message}`);
    return 1;
  } finally {
    process.off('SIGINT', waitForRanks);
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
