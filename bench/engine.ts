// Engine benchmarks (issue 2): fp32 GEMM against the measured FMA peak, a transformer block
// forward+backward, and per-op call overhead, each beside PyTorch doing the same work in the
// same run (bench/engine_pytorch.py, Debian's python3-torch, same thread count).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/torch/index.js';
import { LayerNorm, Linear, Module } from '../src/nn/index.js';
import { measureGemmGflops, runtimeReport } from '../src/torch/runtime.js';
import { fmaPeak } from './fma_peak.js';
import { medianMs, report, type Row } from './report.js';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');
const threads = runtimeReport().threads;

/** Pre-LN GPT block, the same layers and ops in the same order as the PyTorch anchor. */
class Block extends Module {
  readonly ln_1: LayerNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly ln_2: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(
    readonly d: number,
    readonly heads: number,
    mlp: number,
  ) {
    super();
    this.ln_1 = this.registerModule('ln_1', new LayerNorm(d));
    this.qkv = this.registerModule('qkv', new Linear(d, 3 * d));
    this.proj = this.registerModule('proj', new Linear(d, d));
    this.ln_2 = this.registerModule('ln_2', new LayerNorm(d));
    this.fc1 = this.registerModule('fc1', new Linear(d, mlp));
    this.fc2 = this.registerModule('fc2', new Linear(mlp, d));
  }
  /** x [B, T, D] -> [B, T, D]; written as src/models writes layers: sub-blocks in scopes, scale and mask in place. */
  forward(x: T.Tensor, causal: T.Tensor): T.Tensor {
    const [B, Tn, D] = x.shape as [number, number, number];
    const hd = D / this.heads;
    const attention = T.scope(() => {
      const qkv = this.qkv.forward(this.ln_1.forward(x)).view(B, Tn, 3, this.heads, hd).permute(2, 0, 3, 1, 4); // [3, B, H, T, hd]
      const [q, k, v] = [qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)];
      const att = T.scope(() =>
        q
          .matmul(k.transpose(-2, -1))
          .mul_(1 / Math.sqrt(hd))
          .maskedFill_(causal, -Infinity)
          .softmax(-1),
      ); // [B, H, T, T]
      return this.proj.forward(att.matmul(v).transpose(1, 2).reshape(B, Tn, D));
    });
    const h = x.add(attention);
    return h.add(T.scope(() => this.fc2.forward(T.gelu(this.fc1.forward(this.ln_2.forward(h))))));
  }
}

function blockMs(): number {
  T.manualSeed(0);
  const block = new Block(512, 8, 2048);
  const x = T.randn([4, 256, 512]);
  const causal = T.ones([256, 256], { dtype: 'bool' }).triu(1);
  return medianMs(
    () =>
      T.scope(() => {
        block.forward(x, causal).pow(2).mean().backward();
        for (const p of block.parameters()) p.grad = undefined;
      }),
    10,
  );
}

function opOverheadUs(n = 200000): number {
  const a = T.ones([1]);
  return T.noGrad(() => {
    for (let i = 0; i < 1000; i++) a.add(a).dispose();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) a.add(a).dispose();
    return ((performance.now() - t0) / n) * 1e3;
  });
}

const fma = fmaPeak(threads);
const peak = fma.measure();
fma.dispose();
const ours = {
  gemm1024: measureGemmGflops(1024, 10),
  gemm2048: measureGemmGflops(2048, 10),
  blockMs: blockMs(),
  overheadUs: opOverheadUs(),
};
const torch = JSON.parse(
  execFileSync('/usr/bin/python3', [join(benchDir, 'engine_pytorch.py'), String(threads)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(threads) }, // the same OpenMP settings as this process
  }),
) as {
  torch_version: string;
  gemm_1024_gflops: number;
  gemm_2048_gflops: number;
  block_ms: number;
  op_overhead_us: number;
};

const anchorName = `PyTorch ${torch.torch_version}`;
const pctPeak = (g: number) =>
  `${((100 * g) / peak).toFixed(0)}% of ${peak.toFixed(0)} GFLOPS FMA peak (${threads} threads)`;
const rows: Row[] = [
  {
    bench: 'engine',
    metric: 'GEMM 1024³ fp32',
    unit: 'GFLOPS',
    ours: ours.gemm1024,
    anchor: torch.gemm_1024_gflops,
    anchorName,
    higherIsBetter: true,
    note: pctPeak(ours.gemm1024),
  },
  {
    bench: 'engine',
    metric: 'GEMM 2048³ fp32',
    unit: 'GFLOPS',
    ours: ours.gemm2048,
    anchor: torch.gemm_2048_gflops,
    anchorName,
    higherIsBetter: true,
    note: pctPeak(ours.gemm2048),
  },
  {
    bench: 'engine',
    metric: 'block fwd+bwd B4 T256 D512 H8 MLP2048',
    unit: 'ms',
    ours: ours.blockMs,
    anchor: torch.block_ms,
    anchorName,
    higherIsBetter: false,
    note: 'target ≤ 1.0× (aim 0.9×)',
  },
  {
    bench: 'engine',
    metric: 'small-op call overhead (add, 1 element)',
    unit: 'µs',
    ours: ours.overheadUs,
    anchor: torch.op_overhead_us,
    anchorName,
    higherIsBetter: false,
    note: 'target ≤ 5 µs; includes dispose()',
  },
];
report(rows);
