// One training run from a recipe, as `llava train` drives it: the model and its stage, the data, the memory check,
// resume, the loop with checkpoints, metrics and label checks, and the stage's outputs at the end. An abort
// (Ctrl-C) ends the current step, writes a checkpoint and returns 'interrupted'. In a distributed run every rank
// trains its share; only rank 0 writes checkpoints, metrics, the report, the outputs and the log.
import { mkdirSync, readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { ProcessGroup } from '../distributed/index.js';
import { LlavaForConditionalGeneration } from '../models/index.js';
import { tensor } from '../torch/index.js';
import { baseConfig, loadBaseModel, type BaseModel, type BaseOptions } from './base-model.js';
import { manualSeed, withDevice } from '../torch/index.js';
import { measureGemmGflops } from '../torch/runtime.js';
import { listCheckpoints, loadCheckpoint, saveCheckpoint, type Fingerprint } from './checkpoint.js';
import { openRecipeData } from './data-source.js';
import { countParameters, estimateMemory, gib, type MemoryEstimate, type ParameterCounts } from './memory.js';
import { saveLoraOutput, saveStage1, saveStage2 } from './outputs.js';
import { noDecayNames, optimizerGroups } from './param-groups.js';
import type { Recipe } from './recipe.js';
import { writeMetrics, writeReport, type MetricsLine } from './report.js';
import { applyStage, type Trainable } from './trainability.js';
import { forwardBackwardRecompute } from './recompute.js';
import { Trainer, type StepMetrics } from './trainer.js';

export type RunOptions = {
  /** A checkpoint folder, or true for the output folder's latest. */
  resume?: string | true;
  log: (line: string) => void;
  progress?: (m: MetricsLine, total: number) => void;
  signal?: AbortSignal;
  /** This process's rank of a distributed run. */
  group?: ProcessGroup;
};

/** Recipe keys that change no number of the run (resuming with them changed is fine). */
const NOT_IN_FINGERPRINT = new Set([
  'output_dir',
  'save_steps',
  'save_total_limit',
  'max_shard_size',
  'dataloader_num_workers',
  'device',
  'ddp_timeout',
  'zero_stage',
]);

const baseOptions = (recipe: Recipe): BaseOptions => ({
  dir: recipe.model_name_or_path,
  visionTower: recipe.vision_tower,
  projectorType: recipe.mm_projector_type,
  selectLayer: recipe.mm_vision_select_layer,
  selectFeature: recipe.mm_vision_select_feature,
});

const loraOptions = (recipe: Recipe) => ({
  r: recipe.lora_r,
  alpha: recipe.lora_alpha,
  dropout: recipe.lora_dropout,
  targetModules: recipe.lora_target_modules,
});

/** The keys the reference's training adds to config.json (spec §5.6). */
const configExtra = (recipe: Recipe) => ({
  tune_mm_mlp_adapter: recipe.stage === 'pretrain',
  freeze_mm_mlp_adapter: false,
  mm_projector_lr: recipe.mm_projector_lr,
  image_aspect_ratio: recipe.image_aspect_ratio,
  tokenizer_model_max_length: recipe.model_max_length ?? 2048,
});

function buildModel(recipe: Recipe): { base: BaseModel; trainable: Trainable } {
  manualSeed(recipe.seed); // a new projector's and LoRA's initialisation
  const base = loadBaseModel(baseOptions(recipe));
  if (recipe.pretrain_mm_mlp_adapter) base.model.loadProjector(recipe.pretrain_mm_mlp_adapter);
  const trainable = applyStage(base.model, recipe.stage, loraOptions(recipe));
  if (recipe.bf16) {
    // bf16 compute; the Trainer keeps fp32 masters of the trainable weights.
    base.model.to('bfloat16');
    trainable.lora?.to('bfloat16');
  }
  return { base, trainable };
}

function memoryFor(recipe: Recipe, model: LlavaForConditionalGeneration, counts: ParameterCounts): MemoryEstimate {
  const imageTokens = recipe.image_folder ? model.imageSeqLength - 1 : 0;
  return estimateMemory(model.config, counts, {
    batchSize: recipe.per_device_train_batch_size,
    sequenceLength: (recipe.model_max_length ?? 2048) + imageTokens,
    textLength: recipe.model_max_length ?? 2048,
    bf16: recipe.bf16,
    gradientCheckpointing: recipe.gradient_checkpointing,
  });
}

function describe(counts: ParameterCounts, memory: MemoryEstimate): string[] {
  const rows = Object.entries(counts).map(
    ([part, c]) =>
      `  ${part.padEnd(15)} ${c.total.toLocaleString('en-US').padStart(15)}   trainable ${c.trainable.toLocaleString('en-US')}`,
  );
  return [
    'parameters:',
    ...rows,
    `memory estimate: parameters ${gib(memory.parameters)}, gradients ${gib(memory.gradients)}, optimizer ${gib(memory.optimizer)}, activations ${gib(memory.activations)}; total ${gib(memory.total)}`,
  ];
}

/** --dry-run: the resolved recipe, parameter counts by part (from config.json alone) and the memory estimate. */
export function dryRun(recipe: Recipe, log: (line: string) => void): void {
  log(toYaml(recipe).trimEnd());
  const { config } = baseConfig(baseOptions(recipe));
  const model = withDevice('meta', () => new LlavaForConditionalGeneration(config));
  const trainable = withDevice('meta', () => applyStage(model, recipe.stage, loraOptions(recipe)));
  const counts = countParameters(model.namedParameters(), trainable.parameters);
  for (const line of describe(counts, memoryFor(recipe, model, counts))) log(line);
}

export async function runTraining(recipe: Recipe, runOptions: RunOptions): Promise<'done' | 'interrupted'> {
  if (recipe.device !== 'cpu') throw new Error(`device '${recipe.device}': training runs on cpu in this version`);
  const group = runOptions.group;
  const world = group?.worldSize ?? 1;
  const rank0 = (group?.rank ?? 0) === 0;
  if (recipe.gradient_accumulation_steps % world !== 0)
    throw new Error(
      `gradient_accumulation_steps ${recipe.gradient_accumulation_steps} does not split over ${world} ranks: the global batch per_device_train_batch_size × gradient_accumulation_steps is the recipe's at any world size, so each rank runs gradient_accumulation_steps / ${world} micro-batches`,
    );
  const quiet = () => {};
  const options: RunOptions = rank0 ? runOptions : { ...runOptions, log: quiet, progress: undefined };
  const { base, trainable } = buildModel(recipe);
  const model = base.model;
  const counts = countParameters(model.namedParameters(), trainable.parameters);
  const memory = memoryFor(recipe, model, counts);
  for (const line of describe(counts, memory)) options.log(line);
  const available = totalmem();
  if (memory.total > available)
    throw new Error(
      `the run needs about ${gib(memory.total)} but this machine has ${gib(available)} (${gib(freemem())} free): lower per_device_train_batch_size or model_max_length`,
    );

  const data = await openRecipeData(recipe, model.config.image_token_index, recipe.bf16 ? 'bfloat16' : 'float32', {
    rank: group?.rank ?? 0,
    worldSize: world,
  });
  let closeTrainer: (() => Promise<void>) | undefined;
  try {
    if (rank0) mkdirSync(recipe.output_dir, { recursive: true });
    const groups = optimizerGroups(trainable.parameters, noDecayNames(model), {
      lr: recipe.learning_rate,
      weightDecay: recipe.weight_decay,
      projectorLr: recipe.mm_projector_lr,
    });
    const trainer = new Trainer(model, groups, data, {
      epochs: recipe.num_train_epochs,
      maxSteps: recipe.max_steps,
      gradientAccumulationSteps: recipe.gradient_accumulation_steps,
      maxGradNorm: recipe.max_grad_norm,
      scheduler: recipe.lr_scheduler_type,
      warmupRatio: recipe.warmup_ratio,
      warmupSteps: recipe.warmup_steps,
      betas: [recipe.adam_beta1, recipe.adam_beta2],
      eps: recipe.adam_epsilon,
      lossScaling: recipe.loss_scaling,
      seed: recipe.seed,
      maxNonFiniteSteps: recipe.max_non_finite_steps,
      forwardBackward: recipe.gradient_checkpointing
        ? (b, scale) => forwardBackwardRecompute(model, b, scale)
        : undefined,
      group,
      zeroStage: recipe.zero_stage,
    });
    closeTrainer = () => trainer.close();
    if (group) await trainer.connect();
    const fingerprint: Fingerprint = {
      ...Object.fromEntries(Object.entries(recipe).filter(([k]) => !NOT_IN_FINGERPRINT.has(k))),
      dataset_size: data.size,
      trainable_parameters: trainable.parameters.map(([n, p]) => `${n} [${p.shape}]`),
    };
    const history: StepMetrics[] = [];
    if (options.resume) {
      const dir = options.resume === true ? listCheckpoints(recipe.output_dir).at(-1) : options.resume;
      if (!dir) throw new Error(`--resume: no checkpoint-<step> folder in ${recipe.output_dir}`);
      await trainer.gatherState();
      history.push(...loadCheckpoint(dir, trainer, trainable.parameters, fingerprint).log_history);
      options.log(`resumed from ${dir} at step ${trainer.step} of ${trainer.totalSteps}`);
    }
    if (group)
      options.log(
        `${world} ranks, ${recipe.zero_stage ? `ZeRO stage ${recipe.zero_stage}` : 'DDP'}, ${trainer.localAccumulation} micro-batch(es) of ${recipe.per_device_train_batch_size} per rank per step (global batch ${recipe.per_device_train_batch_size * recipe.gradient_accumulation_steps})`,
      );
    options.log(
      `${data.size} samples, ${data.perEpoch} micro-batches per epoch, ${trainer.totalSteps} optimizer steps (warmup ${trainer.warmup})`,
    );

    const peakGflops = measureGemmGflops(512, 3);
    // Model FLOPs per token: 2N forward and 2N backward to the activations, 2N more for the LLM's weight gradients.
    const llm = counts.language_model.total - model.language_model.model.embed_tokens.weight.numel;
    const flopsPerToken = (recipe.stage === 'finetune' ? 6 : 4) * llm;
    // Steps before a resume are shown with this process's figures for memory (the rest is as they ran).
    const lines = history.map((m) => metricsLine(m, flopsPerToken, peakGflops));
    // Every rank gathers (ZeRO's shards); rank 0 writes.
    const save = async () => {
      await trainer.gatherState();
      if (rank0)
        saveCheckpoint(recipe.output_dir, trainer, trainable.parameters, {
          fingerprint,
          logHistory: history,
          keepLast: recipe.save_total_limit,
        });
      trainer.releaseState();
    };
    let fullyMasked = history.reduce((n, m) => n + m.fullyMaskedSamples, 0);
    let warned = false;
    // The reference masks a whole sample silently (a tokenization mismatch, or truncation before the answer): say
    // so at the first one, and stop when they pass the recipe's share (over at least 10 samples).
    const checkLabels = (newOnes: boolean) => {
      const first = data.fullyMasked.slice(0, 3).join(', ');
      const mismatches = data.report.mismatches.slice(0, 3).map((x) => `${x.id} (${x.curLen} vs ${x.totalLen} tokens)`);
      const what = `${fullyMasked} of ${samples} samples so far have no supervised token (first: ${first}); tokenization mismatches: ${data.report.mismatches.length}${mismatches.length ? ` (first: ${mismatches.join(', ')})` : ''}`;
      if (fullyMasked > recipe.max_fully_masked_share * samples && samples >= 10)
        throw new Error(
          `${what}; over max_fully_masked_share ${recipe.max_fully_masked_share}. Check the template (version: ${recipe.version}), the tokenizer and model_max_length`,
        );
      if (newOnes && !warned) options.log(`warning: ${what}`);
      warned ||= newOnes;
    };
    let samples = history.reduce((n, m) => n + m.samples, 0);
    while (!trainer.done) {
      if (await anyRank(group, options.signal?.aborted ?? false)) {
        await save();
        options.log(`interrupted: checkpoint written at step ${trainer.step}; continue with --resume`);
        return 'interrupted';
      }
      const m = await trainer.trainStep();
      history.push(m);
      fullyMasked += m.fullyMaskedSamples;
      samples += m.samples;
      const line = metricsLine(m, flopsPerToken, peakGflops);
      lines.push(line);
      options.progress?.(line, trainer.totalSteps);
      if (m.skipped) options.log(`step ${m.step}: skipped (loss ${m.loss}, grad norm ${m.gradNorm})`);
      if (rank0) {
        writeMetrics(join(recipe.output_dir, 'metrics.jsonl'), lines);
        writeReport(join(recipe.output_dir, 'report.html'), `llava train: ${recipe.stage}`, lines);
      }
      checkLabels(m.fullyMaskedSamples > 0);
      if (recipe.save_steps > 0 && m.step % recipe.save_steps === 0 && !trainer.done) await save();
    }
    await save();
  } finally {
    await closeTrainer?.();
    await data.close();
  }
  if (data.report.skipped.length)
    options.log(`${data.report.skipped.length} bad samples were skipped (on_bad_sample: skip)`);
  if (!rank0) return 'done';
  const extra = configExtra(recipe);
  if (recipe.stage === 'pretrain') saveStage1(recipe.output_dir, base, extra);
  else if (recipe.stage === 'finetune')
    saveStage2(recipe.output_dir, base, {
      tokenizerDir: recipe.tokenizer_dir,
      baseDir: recipe.model_name_or_path,
      maxShardSize: recipe.max_shard_size,
      configExtra: extra,
    });
  else {
    const nonLora = trainable.parameters.filter(([n]) => !n.includes('.lora_'));
    saveLoraOutput(recipe.output_dir, base, trainable.lora!, nonLora, {
      baseDir: recipe.model_name_or_path,
      configExtra: extra,
    });
  }
  options.log(`done; outputs in ${recipe.output_dir}`);
  return 'done';
}

/** Whether `flag` is set on any rank (a Ctrl-C reaches the ranks at different steps; all stop at the same one). */
async function anyRank(group: ProcessGroup | undefined, flag: boolean): Promise<boolean> {
  if (!group) return flag;
  const t = tensor(Float64Array.of(flag ? 1 : 0), [1]);
  await group.allReduce(t, 'max');
  const any = t.item() > 0;
  t.dispose();
  return any;
}

function metricsLine(m: StepMetrics, flopsPerToken: number, peakGflops: number): MetricsLine {
  return {
    step: m.step,
    epoch: m.epoch,
    loss: m.loss,
    lr: m.lrs[0] ?? 0,
    grad_norm: m.gradNorm,
    tokens_per_second: m.tokens / m.seconds,
    samples_per_second: m.samples / m.seconds,
    mfu: (flopsPerToken * m.tokens) / m.seconds / (peakGflops * 1e9),
    peak_memory_bytes: peakRss(),
    supervised_tokens: m.targets,
    fully_masked_samples: m.fullyMaskedSamples,
    skipped: m.skipped,
    seconds: m.seconds,
  };
}

/** The process's peak resident memory (VmHWM). */
function peakRss(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}
