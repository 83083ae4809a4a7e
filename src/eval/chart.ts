// Runs and judges side by side: the summaries of several review files as one table (rows:
// categories and 'all'; columns: the files, named by config, judge and reference) and as a
// self-contained HTML page whose bar chart Chart.js draws (the library inlined from the npm
// package, so the page opens offline and can be mailed as one file).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pythonFloatStr } from './python-float.js';
import { codePointCompare, type FileSummary } from './summarize.js';

export interface Comparison {
  keys: string[];
  runs: { label: string; relative: (number | null)[]; reference: (number | null)[]; candidate: (number | null)[] }[];
}

export function runLabel(s: FileSummary): string {
  const parts = [
    s.judges.length > 0 ? `judge ${s.judges.join('+')}` : '',
    s.references.length > 0 ? `vs ${s.references.join('+')}` : '',
  ];
  const detail = parts.filter(Boolean).join(', ');
  return detail ? `${s.config} (${detail})` : s.config;
}

export function compare(summaries: FileSummary[]): Comparison {
  const keys = [...new Set(summaries.flatMap((s) => s.rows.map((r) => r.key)))].sort((a, b) =>
    a === 'all' ? -1 : b === 'all' ? 1 : codePointCompare(a, b),
  );
  const runs = summaries.map((s) => {
    const rowOf = new Map(s.rows.map((r) => [r.key, r]));
    const column = (pick: (r: FileSummary['rows'][number]) => number) =>
      keys.map((k) => (rowOf.has(k) ? pick(rowOf.get(k)!) : null));
    return {
      label: runLabel(s),
      relative: column((r) => r.relative),
      reference: column((r) => r.reference),
      candidate: column((r) => r.candidate),
    };
  });
  return { keys, runs };
}

/** A Markdown table: each cell "relative (reference x10 / model x10)". */
export function formatComparison(c: Comparison): string {
  const cell = (run: Comparison['runs'][number], i: number) =>
    run.relative[i] === null
      ? '-'
      : `${pythonFloatStr(run.relative[i]!)} (${pythonFloatStr(run.reference[i]!)} / ${pythonFloatStr(run.candidate[i]!)})`;
  const rows = [
    `| category | ${c.runs.map((r) => r.label).join(' | ')} |`,
    `|---|${c.runs.map(() => '---|').join('')}`,
    ...c.keys.map((k, i) => `| ${k} | ${c.runs.map((r) => cell(r, i)).join(' | ')} |`),
  ];
  return `${rows.join('\n')}\n`;
}

/** Chart.js's browser build, from the installed package. */
export function chartJsSource(): string {
  const entry = createRequire(import.meta.url).resolve('chart.js'); // .../chart.js/dist/chart.cjs
  return readFileSync(join(dirname(entry), 'chart.umd.min.js'), 'utf8');
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
/** JSON that cannot end a <script> element early. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/** The bootstrap that draws the chart from the embedded data (kept apart so tests can run it). */
export const CHART_BOOTSTRAP = `const data = JSON.parse(document.getElementById('llava-data').textContent);
new Chart(document.getElementById('llava-chart'), {
  type: 'bar',
  data: { labels: data.keys, datasets: data.runs.map((run) => ({ label: run.label, data: run.relative })) },
  options: {
    responsive: true,
    plugins: { title: { display: true, text: 'Relative score (model / reference answer, %)' } },
    scales: { y: { beginAtZero: true, title: { display: true, text: '%' } } },
  },
});`;

export function chartHtml(c: Comparison, title = 'LLaVA-Bench: relative scores'): string {
  const head = `<tr><th>category</th>${c.runs.map((r) => `<th>${escapeHtml(r.label)}</th>`).join('')}</tr>`;
  const body = c.keys
    .map((k, i) => {
      const cells = c.runs.map((r) =>
        r.relative[i] === null
          ? '<td>-</td>'
          : `<td>${pythonFloatStr(r.relative[i]!)} <small>(${pythonFloatStr(r.reference[i]!)} / ${pythonFloatStr(r.candidate[i]!)})</small></td>`,
      );
      return `<tr><th>${escapeHtml(k)}</th>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; }
table { border-collapse: collapse; margin-top: 2em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
small { color: #666; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<canvas id="llava-chart"></canvas>
<table>
${head}
${body}
</table>
<p><small>Each cell: relative score (reference answer mean x 10 / model mean x 10), as summarize_gpt_review.py computes them.</small></p>
<script>${chartJsSource().replace(/<\/script/gi, '<\\/script')}</script>
<script type="application/json" id="llava-data">${scriptJson(c)}</script>
<script>
${CHART_BOOTSTRAP}
</script>
</body>
</html>
`;
}
