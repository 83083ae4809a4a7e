// Training checkpoints for exact resume: `checkpoint-<step>/` in the output folder, holding
//   trainable.safetensors  the trainable parameters by name (everything else is rebuilt from the base model)
//   optimizer.safetensors  AdamW's exp_avg / exp_avg_sq per parameter (`<name>.exp_avg`), fp32 as trained
//   trainer_state.json     step, per-parameter Adam step counts, the scheduler's position, the sampler's position,
//                          the non-finite streak, the metrics so far, and the run's fingerprint
// RNG: libtorch is reseeded from (seed, step) at every step and the data order is a function of (seed, epoch), so
// the seed and the step are the whole random state. A checkpoint is written into a temporary folder, flushed and
// renamed into place, so a crash or a full disk leaves the previous checkpoints as they were; keep-last-N then
// removes the oldest.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { syncDirectory, writeAll, writeFileAtomic } from '../io/atomic.js';
import { openSafetensors, saveSafetensors } from '../io/tensors.js';
import { noGrad, type Tensor } from '../torch/index.js';
import type { NamedParameter } from './param-groups.js';
import type { StepMetrics, Trainer } from './trainer.js';

export type Fingerprint = Record<string, unknown>;

export type TrainerState = {
  global_step: number;
  /** The next micro-batch to read: (epoch, index within the epoch). */
  sampler: { epoch: number; micro_batch: number };
  /** Optimizer steps each parameter's Adam state has seen (AdamW's `step`). */
  adam_steps: Record<string, number>;
  scheduler: { steps_taken: number; total_steps: number; warmup_steps: number };
  rng: { seed: number; scheme: 'libtorch reseeded from (seed, step) each step; data order from (seed, epoch)' };
  non_finite_streak: number;
  log_history: StepMetrics[];
  fingerprint: Fingerprint;
};

const PREFIX = 'checkpoint-';

/** Checkpoint folders of `outputDir`, oldest first (only complete ones: a folder exists only after its rename). */
export function listCheckpoints(outputDir: string): string[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir)
    .filter((f) => f.startsWith(PREFIX) && /^\d+$/.test(f.slice(PREFIX.length)))
    .sort((a, b) => Number(a.slice(PREFIX.length)) - Number(b.slice(PREFIX.length)))
    .map((f) => join(outputDir, f));
}

/** Under ZeRO after trainer.gatherState(); then only rank 0 writes. */
export function saveCheckpoint(
  outputDir: string,
  trainer: Trainer,
  trainable: NamedParameter[],
  extra: { fingerprint: Fingerprint; logHistory: StepMetrics[]; keepLast: number },
): string {
  mkdirSync(outputDir, { recursive: true });
  const final = join(outputDir, `${PREFIX}${trainer.step}`);
  const tensors = trainer.stateParameters(trainable); // fp32 masters under bf16
  const tmp = join(outputDir, `.${PREFIX}${trainer.step}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    const state = trainer.optimizerState();
    const moments: Record<string, Tensor> = {};
    const adamSteps: Record<string, number> = {};
    for (const [name, p] of tensors) {
      const s = state.get(p);
      if (!s) continue;
      moments[`${name}.exp_avg`] = s.expAvg;
      moments[`${name}.exp_avg_sq`] = s.expAvgSq;
      adamSteps[name] = s.step;
    }
    saveSafetensors(join(tmp, 'trainable.safetensors'), Object.fromEntries(tensors), { format: 'pt' });
    saveSafetensors(join(tmp, 'optimizer.safetensors'), moments, { format: 'pt' });
    const trainerState: TrainerState = {
      global_step: trainer.step,
      sampler: {
        epoch: Math.floor(trainer.step / trainer.stepsPerEpoch),
        micro_batch: (trainer.step % trainer.stepsPerEpoch) * trainer.options.gradientAccumulationSteps,
      },
      adam_steps: adamSteps,
      scheduler: { steps_taken: trainer.step, total_steps: trainer.totalSteps, warmup_steps: trainer.warmup },
      rng: {
        seed: trainer.options.seed,
        scheme: 'libtorch reseeded from (seed, step) each step; data order from (seed, epoch)',
      },
      non_finite_streak: trainer.nonFiniteStreak,
      log_history: extra.logHistory,
      fingerprint: extra.fingerprint,
    };
    const json = JSON.stringify(trainerState, null, 1) + '\n';
    writeFileAtomic(join(tmp, 'trainer_state.json'), (fd) => writeAll(fd, Buffer.from(json)));
    syncDirectory(tmp);
    // An older run's folder of the same step (resumed from an earlier checkpoint) is replaced.
    if (existsSync(final)) {
      const old = `${tmp}-replaced`;
      renameSync(final, old);
      rmSync(old, { recursive: true, force: true });
    }
    renameSync(tmp, final);
    syncDirectory(outputDir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`writing checkpoint ${final} failed (earlier checkpoints are intact): ${(err as Error).message}`);
  }
  const all = listCheckpoints(outputDir);
  for (const old of all.slice(0, Math.max(0, all.length - extra.keepLast)))
    rmSync(old, { recursive: true, force: true });
  return final;
}

/** Which fingerprint fields differ, as "key: checkpoint value ≠ this run's value" lines. */
export function fingerprintDifferences(saved: Fingerprint, current: Fingerprint): string[] {
  const keys = [...new Set([...Object.keys(saved), ...Object.keys(current)])].sort();
  return keys
    .filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(current[k]))
    .map((k) => `${k}: checkpoint ${JSON.stringify(saved[k])} ≠ this run ${JSON.stringify(current[k])}`);
}

/**
 * Restores trainable weights, AdamW state and the trainer's position; refuses a checkpoint of another run. Under
 * ZeRO after trainer.gatherState(), on every rank.
 */
export function loadCheckpoint(
  dir: string,
  trainer: Trainer,
  trainable: NamedParameter[],
  fingerprint: Fingerprint,
): TrainerState {
  const statePath = join(dir, 'trainer_state.json');
  if (!existsSync(statePath)) throw new Error(`${dir}: no trainer_state.json (not a training checkpoint)`);
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as TrainerState;
  const differences = fingerprintDifferences(state.fingerprint, fingerprint);
  if (differences.length > 0)
    throw new Error(
      `${dir} is a checkpoint of another run; refusing to resume from it:\n  ${differences.join('\n  ')}`,
    );
  const weights = openSafetensors(join(dir, 'trainable.safetensors'));
  const moments = openSafetensors(join(dir, 'optimizer.safetensors'));
  const adam = new Map<Tensor, { step: number; expAvg: Tensor; expAvgSq: Tensor }>();
  noGrad(() => {
    for (const [name, p] of trainer.stateParameters(trainable)) {
      if (!weights.has(name)) throw new Error(`${dir}/trainable.safetensors: no '${name}'`);
      const t = weights.readTensor(name);
      p.copy_(t);
      t.dispose();
      const step = state.adam_steps[name];
      if (step === undefined) continue;
      adam.set(p, {
        step,
        expAvg: moments.readTensor(`${name}.exp_avg`),
        expAvgSq: moments.readTensor(`${name}.exp_avg_sq`),
      });
    }
  });
  weights.close();
  moments.close();
  trainer.loadOptimizerState(adam);
  trainer.syncWeights();
  trainer.step = state.global_step;
  trainer.nonFiniteStreak = state.non_finite_streak;
  return state;
}
