// Training benchmarks (issue 9): the Trainer's optimizer step (forward + backward, clipping, cosine schedule,
// AdamW) for stage 1 (projector) and stage 2 (projector + LLM), with and without activation recompute, on the
// benchmark's small LLaVA (as bench/models.ts) and a ~100M-parameter one; tokens/s, the step's peak memory and
// MFU against the measured FMA peak, beside the same model and loop in PyTorch in the same run
// (bench/train_pytorch.py, same threads and OpenMP settings; torch.utils.checkpoint per layer), whose steps
// alternate with ours so that load from other jobs on a shared machine falls on both alike.
// node dist/bench/train.js [small|100m ...] [--reps N]
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { llavaConfig, LlavaForConditionalGeneration } from '../src/models/index.js';
import { runtimeReport } from '../src/torch/runtime.js';
import { noDecayNames, optimizerGroups } from '../src/train/param-groups.js';
import { forwardBackwardRecompute } from '../src/train/recompute.js';
import { applyStage, type Stage } from '../src/train/trainability.js';
import { Trainer, type MicroBatchSource } from '../src/train/trainer.js';
import { fmaPeak } from './fma_peak.js';
import { median, report, type Row } from './report.js';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');
const threads = runtimeReport().threads;
const IMAGE_TOKEN = 31999;
const args = process.argv.slice(2);
const repsAt = args.indexOf('--reps');
const reps = repsAt >= 0 ? Number(args[repsAt + 1]) : 3;
const sizes = args.filter((a, i) => !a.startsWith('--') && i !== repsAt + 1);

const vision = {
  hidden_size: 384,
  intermediate_size: 1536,
  num_hidden_layers: 12,
  num_attention_heads: 6,
  image_size: 336,
  patch_size: 14,
};
const text = (hidden: number, layers: number, heads: number, inter: number) => ({
  hidden_size: hidden,
  intermediate_size: inter,
  num_hidden_layers: layers,
  num_attention_heads: heads,
  num_key_value_heads: heads,
  vocab_size: 32000,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  max_position_embeddings: 4096,
});
const CONFIGS: Record<string, { name: string; text: ReturnType<typeof text> }> = {
  small: { name: 'small LLaVA (LLaMA 8×512)', text: text(512, 8, 8, 1376) },
  '100m': { name: '~100M LLaVA (LLaMA 12×640)', text: text(640, 12, 10, 1728) },
};
const CASES: { name: string; stage: Stage; recompute: boolean }[] = [
  { name: 'stage 1', stage: 'pretrain', recompute: false },
  { name: 'stage 1, recompute', stage: 'pretrain', recompute: true },
  { name: 'stage 2', stage: 'finetune', recompute: false },
  { name: 'stage 2, recompute', stage: 'finetune', recompute: true },
];
const batch = 2;
const textTokens = 64;

const status = (field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

// Peak memory is measured in processes of its own, where glibc's mmap threshold is fixed at 64 KiB: every tensor
// is then mapped on allocation and unmapped when freed, so the RSS follows the bytes alive and a step's VmHWM over
// the RSS of the built model is the most a step holds (the gradients, AdamW's moments and the activations), for
// PyTorch and for us alike. Left at glibc's default, freed pages stay in the heap and later steps reuse them
// unseen. Step times are taken without it.
const LIVE_MEMORY_ENV = { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '0' };

function buildModel(text: (typeof CONFIGS)[string]['text']) {
  T.manualSeed(0);
  const model = new LlavaForConditionalGeneration(
    llavaConfig({
      model_type: 'llava',
      image_token_index: IMAGE_TOKEN,
      vision_feature_layer: -2,
      vision_config: vision,
      text_config: text,
    }),
  );
  const pixels = T.randn([batch, 3, 336, 336]);
  const ids = T.randint(0, 31000, [batch, textTokens]);
  const inputIds = T.cat([T.full([batch, 1], IMAGE_TOKEN, { dtype: 'int64' }), ids], 1);
  const labels = T.cat([T.full([batch, 1], -100, { dtype: 'int64' }), ids], 1);
  const source: MicroBatchSource = {
    perEpoch: 1_000_000,
    async *epoch() {
      for (;;)
        yield {
          inputIds: inputIds.clone(),
          attentionMask: T.onesLike(inputIds),
          labels: labels.clone(),
          pixelValues: pixels.clone(),
        };
    },
  };
  return { model, source };
}

function trainerFor(model: LlavaForConditionalGeneration, source: MicroBatchSource, c: (typeof CASES)[number]) {
  const { parameters } = applyStage(model, c.stage);
  const groups = optimizerGroups(parameters, noDecayNames(model), { lr: 1e-5, weightDecay: 0 });
  return new Trainer(model, groups, source, {
    epochs: 1,
    gradientAccumulationSteps: 1,
    maxGradNorm: 1,
    scheduler: 'cosine',
    warmupRatio: 0,
    betas: [0.9, 0.999],
    eps: 1e-8,
    lossScaling: 'mean',
    seed: 0,
    maxNonFiniteSteps: 5,
    forwardBackward: c.recompute ? (b, scale) => forwardBackwardRecompute(model, b, scale) : undefined,
  });
}

/** In a process started with LIVE_MEMORY_ENV: the peak bytes of a step over the built model's RSS, per case. */
async function peakBytesPerCase(size: string): Promise<Record<string, number>> {
  const { model, source } = buildModel(CONFIGS[size]!.text);
  const base = status('VmRSS');
  const peaks: Record<string, number> = {};
  for (const c of CASES) {
    const trainer = trainerFor(model, source, c);
    await trainer.trainStep(); // optimizer state allocated, as it is in every later step
    writeFileSync('/proc/self/clear_refs', '5');
    await trainer.trainStep();
    peaks[c.name] = status('VmHWM') - base;
    await trainer.close();
  }
  return peaks;
}

const memoryOf = args.indexOf('--memory-of');
if (memoryOf >= 0) {
  console.log(JSON.stringify(await peakBytesPerCase(args[memoryOf + 1]!)));
  process.exit(0);
}

/** The anchor's peak bytes per case, in a process of its own started with LIVE_MEMORY_ENV. */
const pytorchPeaks = (shapes: object) =>
  JSON.parse(
    execFileSync(
      '/usr/bin/python3',
      [join(benchDir, 'train_pytorch.py'), String(threads), JSON.stringify(shapes), 'memory'],
      {
        encoding: 'utf8',
        env: { ...process.env, OMP_NUM_THREADS: String(threads), ...LIVE_MEMORY_ENV },
      },
    ),
  ) as { torch_version: string; cases: Record<string, number> };

/** The anchor as a coprocess that runs one step when asked, so its steps alternate with ours. */
async function pytorchSteps(shapes: object) {
  const child = spawn(
    '/usr/bin/python3',
    [join(benchDir, 'train_pytorch.py'), String(threads), JSON.stringify(shapes), 'steps'],
    {
      env: { ...process.env, OMP_NUM_THREADS: String(threads) },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ask = async (line?: string) => {
    if (line !== undefined) child.stdin!.write(line + '\n');
    const answer = await lines.next();
    if (answer.done) throw new Error(`bench/train_pytorch.py exited (${child.exitCode}) before answering '${line}'`);
    return answer.value;
  };
  const { torch_version } = JSON.parse(await ask()) as { torch_version: string };
  return {
    version: torch_version,
    startCase: (name: string) => ask(`case ${name}`),
    step: async () => Number(await ask('step')),
    close: () => child.stdin!.end(),
  };
}

const fma = fmaPeak(threads);
const rows: Row[] = [];
// MFU is filled in at the end, against the highest FMA peak measured between the cases.
const mfuOf: { row: Row; flops: number; stepMs: number; tokensPerSecond: number }[] = [];
for (const size of sizes.length ? sizes : Object.keys(CONFIGS)) {
  const config = CONFIGS[size];
  if (!config) throw new Error(`unknown size '${size}' (small, 100m)`);
  const shapes = { vision, text: config.text, batch, text_tokens: textTokens, reps, cases: CASES };
  const torchPeaks = pytorchPeaks(shapes).cases;
  const ourPeaks = JSON.parse(
    execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--memory-of', size], {
      encoding: 'utf8',
      env: { ...process.env, ...LIVE_MEMORY_ENV },
    }),
  ) as Record<string, number>;
  const torch = await pytorchSteps(shapes);
  const { model, source } = buildModel(config.text);
  const positions = model.imageSeqLength + textTokens;
  const params = (prefix: string) =>
    model
      .namedParameters()
      .filter(([n]) => n.startsWith(prefix))
      .reduce((s, [, p]) => s + p.numel, 0);
  const llm = params('language_model.') - model.language_model.model.embed_tokens.weight.numel;
  const tower = params('vision_tower.');
  for (const c of CASES) {
    fma.measure();
    const trainer = trainerFor(model, source, c);
    await torch.startCase(c.name);
    // One warm-up step each, then steps alternating with the anchor's.
    await trainer.trainStep();
    await torch.step();
    const times: number[] = [];
    const torchTimes: number[] = [];
    for (let i = 0; i < reps; i++) {
      times.push((await trainer.trainStep()).seconds * 1000);
      torchTimes.push(await torch.step());
    }
    await trainer.close();
    const stepMs = median(times);
    // Model FLOPs (recompute not counted): the LLM's 2N per token forward, 2N backward to the activations, and
    // 2N more for weight gradients in stage 2; the frozen tower's 2N per patch forward.
    const flops = batch * (positions * (c.stage === 'finetune' ? 6 : 4) * llm + model.imageSeqLength * 2 * tower);
    const anchorName = `PyTorch ${torch.version}`;
    const label = `${config.name}, ${c.name}, B${batch} × ${positions}`;
    const step: Row = {
      bench: 'train',
      metric: `${label}: step`,
      unit: 'ms',
      ours: stepMs,
      anchor: median(torchTimes),
      anchorName,
      higherIsBetter: false,
    };
    mfuOf.push({ row: step, flops, stepMs, tokensPerSecond: (batch * positions) / (stepMs / 1000) });
    rows.push(step, {
      bench: 'train',
      metric: `${label}: peak memory of a step`,
      unit: 'MB',
      ours: ourPeaks[c.name]! / 1e6,
      anchor: torchPeaks[c.name]! / 1e6,
      anchorName,
      higherIsBetter: false,
      note: 'target ≤ 1.1×; over the built model, tensors unmapped when freed',
    });
  }
  torch.close();
  model.dispose();
}
const peakGflops = fma.measure();
fma.dispose();
for (const { row, flops, stepMs, tokensPerSecond } of mfuOf) {
  const mfu = flops / (stepMs / 1000) / (peakGflops * 1e9);
  row.note = `target ≤ 0.9×; ${tokensPerSecond.toFixed(0)} tokens/s, MFU ${(mfu * 100).toFixed(1)}% of ${peakGflops.toFixed(0)} GFLOPS`;
}
report(rows);
