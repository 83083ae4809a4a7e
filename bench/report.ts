import { readFileSync, writeFileSync } from 'node:fs';
// Benchmark output: one JSON line per figure (machine-readable), then a readable table. Every
// figure stands beside its anchor (the same work in PyTorch, measured in the same run) as a ratio.
export type Row = {
  bench: string;
  metric: string;
  unit: string;
  ours: number;
  anchor?: number;
  anchorName?: string;
  higherIsBetter: boolean;
  note?: string;
};

export function report(rows: Row[]): void {
  for (const r of rows) console.log(JSON.stringify({ ...r, ratio: r.anchor ? r.ours / r.anchor : undefined }));
  const fmt = (v: number | undefined) =>
    v === undefined ? '' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  const anchorHeader = rows.find((r) => r.anchorName)?.anchorName ?? 'anchor';
  const anchorCell = (r: Row) =>
    r.anchor
      ? `${fmt(r.anchor)} ${r.unit}${r.anchorName && r.anchorName !== anchorHeader ? ` (${r.anchorName})` : ''}`
      : '';
  const lines = rows.map((r) => [
    r.metric,
    `${fmt(r.ours)} ${r.unit}`,
    anchorCell(r),
    r.anchor ? `${(r.ours / r.anchor).toFixed(2)}×` : '',
    r.note ?? '',
  ]);
  const header = ['metric', 'llava-ts', anchorHeader, 'ratio', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log(`\n${row(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${lines.map(row).join('\n')}\n`);
}

/** The middle value (the upper one of an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Median time between consecutive timestamps, in their unit. */
export const medianGap = (times: number[]): number => median(times.slice(1).map((t, i) => t - times[i]!));

/** Median of `reps` timed runs after `warmup` untimed ones, in ms. */
export function medianMs(fn: () => void, reps: number, warmup = 2): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** medianMs for async work. */
export async function medianMsAsync(fn: () => Promise<unknown>, reps: number, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * Times synchronous I/O work over `bytes` and its peak resident-memory growth: the kernel's
 * high-water mark (VmHWM) is reset first (clear_refs 5), so the peak inside `work` is caught,
 * which a timer sampling RSS could not do while synchronous work blocks the event loop.
 */
export function measureIo(name: string, work: () => void, bytes: number): Record<string, number | string> {
  global.gc?.();
  writeFileSync('/proc/self/clear_refs', '5');
  const rss0 = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  work();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const peak = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  const rate = bytes === 0 ? '-' : +(bytes / 2 ** 20 / seconds).toFixed(0);
  return {
    name,
    seconds: +seconds.toFixed(4),
    MiB_per_s: rate,
    peak_rss_growth_MiB: +((peak - rss0) / 2 ** 20).toFixed(0),
  };
}
