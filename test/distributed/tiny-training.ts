// A few AdamW steps of the golden tiny LLaMA on seeded token batches: once in one process over
// the whole global batch (the reference, plain backward), and as one rank of a data-parallel run
// over its share (DataParallel). Equal-length rows, so the mean of the ranks' mean losses is the
// global mean loss, and the averaged gradients are the global batch's.
import { join } from 'node:path';
import * as T from '../../src/torch/index.js';
import { AdamW, clipGradNorm } from '../../src/nn/index.js';
import { LlamaForCausalLM } from '../../src/models/index.js';
import { DataParallel, ZeroOptimizer, type ProcessGroup } from '../../src/distributed/index.js';
import { openSafetensors, saveSafetensors } from '../../src/io/tensors.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { goldenRoot } from '../helpers/golden.js';

export const GLOBAL_BATCH = 4;
const SEQ = 12;
const STEPS = 3;
const VOCAB = 512; // llama_tiny's

/** The run's global batches, [GLOBAL_BATCH, SEQ] token ids each, the same in every process. */
function globalBatches(): T.Tensor[] {
  T.manualSeed(1234);
  return Array.from({ length: STEPS }, () => T.randint(0, VOCAB, [GLOBAL_BATCH, SEQ]));
}

export type TrainRun = {
  /** With a group, this rank trains on its share and syncs gradients; without, the whole batch. */
  group?: ProcessGroup;
  /** Micro-batches per step (gradient accumulation). */
  ga: number;
  /** How a group's ranks train: DataParallel, or ZeRO stage 1 or 2. */
  mode?: 'ddp' | 'zero1' | 'zero2';
  /** Gradient clipping to this global 2-norm before each step, when given. */
  clip?: number;
  /** Rank 0 (or the single process) saves the final model here (model.safetensors). */
  out: string;
  /** The steps to run, [from, to) of the run's 3; default all. */
  steps?: [number, number];
  /** Starts from this folder's model and optimizer state (a run saved with saveOptimizer). */
  resume?: string;
  /** Also saves the optimizer state (AdamW.stateDict's layout, gathered under ZeRO) to out/optimizer.safetensors. */
  saveOptimizer?: boolean;
  /** The weights' dtype (default float32, the checkpoint's). */
  dtype?: 'float32' | 'float64';
};

type OptimizerState = ReturnType<AdamW['stateDict']>;

function saveOptimizerState(path: string, { state }: OptimizerState): void {
  const tensors: Record<string, T.Tensor> = {};
  for (const [i, s] of state) {
    tensors[`state.${i}.exp_avg`] = s.expAvg;
    tensors[`state.${i}.exp_avg_sq`] = s.expAvgSq;
  }
  saveSafetensors(path, tensors, { step: String(state.get(0)!.step) });
}

function loadOptimizerState(path: string, hyper: OptimizerState['paramGroups'][number]): OptimizerState {
  const reader = openSafetensors(path);
  const file = SafetensorsFile.open(path);
  const step = Number(file.metadata.step);
  file.close();
  const state: OptimizerState['state'] = new Map();
  for (const name of reader.names().filter((n) => n.endsWith('.exp_avg'))) {
    const i = Number(name.split('.')[1]);
    state.set(i, { step, expAvg: reader.readTensor(name), expAvgSq: reader.readTensor(`state.${i}.exp_avg_sq`) });
  }
  return { state, paramGroups: [hyper] };
}

/** The global mean loss of each step, and the gradient norm before clipping when clipping. */
export async function trainTinyLlama({
  group,
  ga,
  out,
  mode = 'ddp',
  clip,
  steps = [0, STEPS],
  resume,
  saveOptimizer = false,
  dtype = 'float32',
}: TrainRun): Promise<{ losses: number[]; norms: number[] }> {
  const model = LlamaForCausalLM.fromPretrained(resume ?? join(goldenRoot, 'llama_tiny'), { dtype }).train();
  const params = model.parameters();
  const hyper = { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.1 };
  const zero =
    group && mode !== 'ddp' ? await ZeroOptimizer.create(group, params, mode === 'zero1' ? 1 : 2, hyper) : undefined;
  const dp = group && !zero ? await DataParallel.create(group, params, { bucketBytes: 64 * 1024 }) : undefined;
  const optimizer = zero ? undefined : new AdamW(params, hyper);
  if (resume) (zero ?? optimizer!).loadStateDict(loadOptimizerState(join(resume, 'optimizer.safetensors'), hyper));
  const world = group?.worldSize ?? 1;
  const share = GLOBAL_BATCH / world;
  const micro = share / ga;
  const losses: number[] = [];
  const norms: number[] = [];
  for (const batch of globalBatches().slice(...steps)) {
    const mine = batch.narrow(0, (group?.rank ?? 0) * share, share);
    let loss = 0;
    for (let m = 0; m < ga; m++) {
      const ids = mine.narrow(0, m * micro, micro);
      const l = model.forward({ inputIds: ids, labels: ids }).loss!.div(ga);
      loss += l.item();
      const sync = m === ga - 1;
      if (zero) await zero.backward(l, { sync });
      else if (dp) await dp.backward(l, { sync });
      else l.backward();
    }
    if (group) {
      const total = T.tensor([loss]);
      await group.allReduce(total, 'avg');
      loss = total.item();
    }
    losses.push(loss);
    if (clip !== undefined) norms.push(zero ? await zero.clipGradNorm(clip) : clipGradNorm(params, clip));
    if (zero) await zero.step();
    else {
      optimizer!.step();
      optimizer!.zeroGrad();
    }
  }
  const state = saveOptimizer ? await (zero ? zero.stateDict() : optimizer!.stateDict()) : undefined;
  if ((group?.rank ?? 0) === 0) {
    model.savePretrained(out);
    if (state) saveOptimizerState(join(out, 'optimizer.safetensors'), state);
  }
  return { losses, norms };
}
