// Training benchmarks (issue 9): the Trainer's optimizer step (forward + backward, clipping, cosine schedule,
// AdamW) for stage 1 (projector) and stage 2 (projector + LLM), with and without activation recompute, on the
// benchmark's small LLaVA (as bench/models.ts) and a ~100M-parameter one; tokens/s, the step's peak memory and
// MFU against the measured FMA peak, beside the same model and loop in PyTorch in the same run
// (bench/train_pytorch.py, same threads and OpenMP settings; torch.utils.checkpoint per layer).
// node dist/bench/train.js [small|100m ...] [--reps N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { llavaConfig, LlavaForConditionalGeneration } from '../src/models/index.js';
import { runtimeReport } from '../src/torch/runtime.js';
import { noDecayNames, optimizerGroups } from '../src/train/param-groups.js';
import { forwardBackwardRecompute } from '../src/train/recompute.js';
import { applyStage, type Stage } from '../src/train/trainability.js';
import { Trainer, type MicroBatchSource } from '../src/train/trainer.js';
import { report, type Row } from './report.js';

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

function fmaPeakGflops(): number {
  const dir = mkdtempSync(join(tmpdir(), 'fma-'));
  const exe = join(dir, 'fma_peak');
  execFileSync('gcc', [
    '-O3',
    '-funroll-loops',
    '-mavx2',
    '-mfma',
    '-fopenmp',
    join(benchDir, 'fma_peak.c'),
    '-o',
    exe,
  ]);
  const run = () =>
    Number(
      execFileSync(exe, { env: { ...process.env, OMP_NUM_THREADS: String(threads) }, encoding: 'utf8' }).split(' ')[0],
    );
  const peak = Math.max(run(), run(), run());
  rmSync(dir, { recursive: true, force: true });
  return peak;
}

const status = (field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

const peakGflops = fmaPeakGflops();
const rows: Row[] = [];
for (const size of sizes.length ? sizes : Object.keys(CONFIGS)) {
  const config = CONFIGS[size];
  if (!config) throw new Error(`unknown size '${size}' (small, 100m)`);
  T.manualSeed(0);
  const model = new LlavaForConditionalGeneration(
    llavaConfig({
      model_type: 'llava',
      image_token_index: IMAGE_TOKEN,
      vision_feature_layer: -2,
      vision_config: vision,
      text_config: config.text,
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
  const positions = model.imageSeqLength + textTokens;
  const params = (prefix: string) =>
    model
      .namedParameters()
      .filter(([n]) => n.startsWith(prefix))
      .reduce((s, [, p]) => s + p.numel, 0);
  const llm = params('language_model.') - model.language_model.model.embed_tokens.weight.numel;
  const tower = params('vision_tower.');
  const shapes = { vision, text: config.text, batch, text_tokens: textTokens, reps, cases: CASES };
  const torch = JSON.parse(
    execFileSync('/usr/bin/python3', [join(benchDir, 'train_pytorch.py'), String(threads), JSON.stringify(shapes)], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: String(threads) },
    }),
  ) as { torch_version: string; cases: Record<string, { step_ms: number; peak_bytes: number }> };
  for (const c of CASES) {
    const { parameters } = applyStage(model, c.stage);
    const groups = optimizerGroups(parameters, noDecayNames(model), { lr: 1e-5, weightDecay: 0 });
    const trainer = new Trainer(model, groups, source, {
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
    await trainer.trainStep(); // optimizer state allocated before the peak is measured
    writeFileSync('/proc/self/clear_refs', '5');
    const before = status('VmRSS');
    await trainer.trainStep();
    const peak = status('VmHWM') - before;
    const times: number[] = [];
    for (let i = 0; i < reps; i++) times.push((await trainer.trainStep()).seconds * 1000);
    await trainer.close();
    const stepMs = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
    // Model FLOPs (recompute not counted): the LLM's 2N per token forward, 2N backward to the activations, and
    // 2N more for weight gradients in stage 2; the frozen tower's 2N per patch forward.
    const flops = batch * (positions * (c.stage === 'finetune' ? 6 : 4) * llm + model.imageSeqLength * 2 * tower);
    const mfu = flops / (stepMs / 1000) / (peakGflops * 1e9);
    const anchor = torch.cases[c.name]!;
    const anchorName = `PyTorch ${torch.torch_version}`;
    const label = `${config.name}, ${c.name}, B${batch} × ${positions}`;
    rows.push(
      {
        bench: 'train',
        metric: `${label}: step`,
        unit: 'ms',
        ours: stepMs,
        anchor: anchor.step_ms,
        anchorName,
        higherIsBetter: false,
        note: `target ≤ 0.9×; ${((batch * positions) / (stepMs / 1000)).toFixed(0)} tokens/s, MFU ${(mfu * 100).toFixed(1)}% of ${peakGflops.toFixed(0)} GFLOPS`,
      },
      {
        bench: 'train',
        metric: `${label}: peak memory of a step`,
        unit: 'MB',
        ours: peak / 1e6,
        anchor: anchor.peak_bytes / 1e6,
        anchorName,
        higherIsBetter: false,
        note: 'target ≤ 1.1×',
      },
    );
  }
  model.dispose();
}
report(rows);
