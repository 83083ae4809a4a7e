// What a user watches: per-step metrics as JSONL (metrics.jsonl, rewritten from the checkpoint's history on
// resume so it never holds a step twice) and a self-contained HTML report (report.html) whose curves are drawn by
// Chart.js, inlined so the file opens anywhere without a network; both rewritten as training goes.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { writeAll, writeFileAtomic } from '../io/atomic.js';

/** One JSONL line: the step's metrics and the throughput figures derived from them. */
export type MetricsLine = {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_second: number;
  samples_per_second: number;
  /** Model FLOPs utilisation against the GEMM rate measured at start-up. */
  mfu: number;
  peak_memory_bytes: number;
  supervised_tokens: number;
  fully_masked_samples: number;
  skipped: boolean;
  seconds: number;
};

let chartJs: string | undefined;
/** Chart.js's UMD build, read once from the installed package. */
export function chartSource(): string {
  const entry = createRequire(import.meta.url).resolve('chart.js'); // .../chart.js/dist/chart.cjs
  chartJs ??= readFileSync(join(dirname(entry), 'chart.umd.min.js'), 'utf8');
  return chartJs;
}

export function writeMetrics(path: string, lines: MetricsLine[]): void {
  const text = lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : '');
  writeFileAtomic(path, (fd) => writeAll(fd, Buffer.from(text)));
}

const CHARTS: [keyof MetricsLine, string][] = [
  ['loss', 'loss'],
  ['lr', 'learning rate'],
  ['grad_norm', 'gradient norm (before clipping)'],
  ['tokens_per_second', 'tokens/s'],
  ['mfu', 'MFU'],
];

export function writeReport(path: string, title: string, lines: MetricsLine[]): void {
  const data = JSON.stringify(
    Object.fromEntries(CHARTS.map(([key]) => [key, lines.map((l) => ({ x: l.step, y: l[key] }))])),
  ).replace(/</g, '\\u003c');
  const canvases = CHARTS.map(([key, label]) => `<h2>${label}</h2><canvas id="${key}"></canvas>`).join('\n');
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:14px sans-serif;max-width:900px;margin:2em auto}canvas{max-height:260px}</style>
<script>${chartSource()}</script></head>
<body><h1>${escapeHtml(title)}</h1><p>${lines.length} steps; last loss ${lines.at(-1)?.loss ?? '-'}</p>
${canvases}
<script>
const data = ${data};
for (const [key, points] of Object.entries(data))
  new Chart(document.getElementById(key), { type: 'line', data: { datasets: [{ label: key, data: points, pointRadius: 0 }] },
    options: { animation: false, parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'step' } } } } });
</script></body></html>
`;
  writeFileAtomic(path, (fd) => writeAll(fd, Buffer.from(html)));
}

export const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
