// Model benchmarks (issue 3) on a small realistic LLaVA (CLIP 12 layers width 384 at 336 px,
// LLaMA 8 layers width 512, vocab 32000, mlp2x projector; ~80M parameters): a stage-2 training
// step, a prefill of 576 image + 64 text tokens, greedy decode tokens/s, each beside the same
// model in plain PyTorch in the same run (bench/models_pytorch.py); and the peak memory of
// loading a bf16 checkpoint against its size.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { AdamW } from '../src/nn/index.js';
import { llavaConfig, LlavaForConditionalGeneration } from '../src/models/index.js';
import { runtimeReport } from '../src/torch/runtime.js';
import { medianMs, medianMsAsync, report, type Row } from './report.js';
import { LLAMA_8X512 } from './shapes.js';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, '..', '..', 'bench');
const IMAGE_TOKEN = 31999;
const shapes = {
  vision: {
    hidden_size: 384,
    intermediate_size: 1536,
    num_hidden_layers: 12,
    num_attention_heads: 6,
    image_size: 336,
    patch_size: 14,
  },
  text: LLAMA_8X512,
  batch: 2,
  text_tokens: 64,
  reps: 5,
  decode_tokens: 64,
};

function buildModel(): LlavaForConditionalGeneration {
  T.manualSeed(0);
  return new LlavaForConditionalGeneration(
    llavaConfig({
      model_type: 'llava',
      image_token_index: IMAGE_TOKEN,
      vision_feature_layer: -2,
      vision_config: shapes.vision,
      text_config: shapes.text,
    }),
  );
}

/** Peak resident memory of a child that loads `dir` (bf16, kept bf16), minus its RSS before loading. */
function loadPeakBytes(dir: string): number {
  const script = `
    import { readFileSync } from 'node:fs';
    const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    const { LlavaForConditionalGeneration } = await import(${JSON.stringify(join(here, '..', 'src', 'models', 'index.js'))});
    const before = hwm();
    const model = LlavaForConditionalGeneration.fromPretrained(${JSON.stringify(dir)}, { dtype: 'auto' });
    console.log(JSON.stringify({ before, after: hwm(), params: model.parameters().length }));`;
  const out = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  ) as { before: number; after: number };
  return out.after - out.before;
}

const model = buildModel();
model.vision_tower.freeze();
const B = shapes.batch;
const pixels = T.randn([B, 3, 336, 336]);
const text = T.randint(0, 31000, [B, shapes.text_tokens]);
const inputIds = T.cat([T.full([B, 1], IMAGE_TOKEN, { dtype: 'int64' }), text], 1); // image first: 576 + 64 = 640 positions
const optimizer = new AdamW(
  model.parameters().filter((p) => p.requiresGrad),
  { lr: 1e-5 },
);

const trainStepMs = medianMs(
  () =>
    T.scope(() => {
      model.forward({ inputIds, pixelValues: pixels, labels: inputIds }).loss!.backward();
      optimizer.step();
      optimizer.zeroGrad();
    }),
  shapes.reps,
  1,
);

const one = { inputIds: inputIds.narrow(0, 0, 1), pixelValues: pixels.narrow(0, 0, 1), eosTokenId: null };
const prefillMs = await medianMsAsync(() => model.generate({ ...one, maxNewTokens: 1 }), shapes.reps, 1);
let stepTimes: number[] = [];
await model.generate({
  ...one,
  maxNewTokens: shapes.decode_tokens + 1,
  onStep: () => stepTimes.push(performance.now()),
});
const decodeTokensPerS = shapes.decode_tokens / ((stepTimes[stepTimes.length - 1]! - stepTimes[0]!) / 1e3);
stepTimes = [];

const ckpt = mkdtempSync(join(tmpdir(), 'llava-bench-'));
model.to('bfloat16').savePretrained(ckpt, { maxShardSize: '64MB' });
const ckptBytes = JSON.parse(readFileSync(join(ckpt, 'model.safetensors.index.json'), 'utf8')).metadata
  .total_size as number;
const peak = loadPeakBytes(ckpt);
rmSync(ckpt, { recursive: true, force: true });

const threads = runtimeReport().threads;
const torch = JSON.parse(
  execFileSync('/usr/bin/python3', [join(benchDir, 'models_pytorch.py'), String(threads), JSON.stringify(shapes)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(threads) }, // the same OpenMP settings as this process
  }),
) as { torch_version: string; train_step_ms: number; prefill_ms: number; decode_tokens_per_s: number };

const anchorName = `PyTorch ${torch.torch_version}`;
const rows: Row[] = [
  {
    bench: 'models',
    metric: 'stage-2 step (B2 × 640 tokens, fwd+bwd+AdamW)',
    unit: 'ms',
    ours: trainStepMs,
    anchor: torch.train_step_ms,
    anchorName,
    higherIsBetter: false,
    note: 'target ≤ 1.0× (aim 0.9×)',
  },
  {
    bench: 'models',
    metric: 'prefill 576 image + 64 text tokens',
    unit: 'ms',
    ours: prefillMs,
    anchor: torch.prefill_ms,
    anchorName,
    higherIsBetter: false,
    note: 'target ≤ 1.0× (aim 0.9×)',
  },
  {
    bench: 'models',
    metric: 'greedy decode with KV cache',
    unit: 'tokens/s',
    ours: decodeTokensPerS,
    anchor: torch.decode_tokens_per_s,
    anchorName,
    higherIsBetter: true,
    note: `target ≥ 3× HF generate (21.7 tokens/s measured here): ${(decodeTokensPerS / 21.7).toFixed(2)}×`,
  },
  {
    bench: 'models',
    metric: 'peak RSS loading a bf16 checkpoint',
    unit: 'MB',
    ours: peak / 1e6,
    anchor: ckptBytes / 1e6,
    anchorName: 'checkpoint size',
    higherIsBetter: false,
    note: 'target ≤ 1.2× the checkpoint size',
  },
];
report(rows);
