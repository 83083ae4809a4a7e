// The demo's report: one self-contained HTML file (images inlined as data: URLs, Chart.js inlined) with the
// table of the three models, sample held-out images with their questions and each model's answer, the learning
// curves of every stage, and the time each stage took.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAll, writeFileAtomic } from '../io/atomic.js';
import { chartSource, escapeHtml } from '../train/report.js';
import type { ModelScores } from './evaluate.js';
import { QUESTION_KINDS as KINDS, type QuestionKind as Kind, type QuestionLine } from './questions.js';

export type Curve = { name: string; points: { x: number; y: number }[] };

export type ReportInput = {
  title: string;
  models: ModelScores[];
  /** Accuracy of a uniform guess per kind (the chance the blind model should sit at). */
  chance: Record<Kind, number>;
  /** Exact-match questions of a few held-out images, shown with every model's answer. */
  samples: QuestionLine[];
  imageFolder: string;
  curves: Curve[];
  timings: { stage: string; seconds: number }[];
  notes: string[];
};

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

export function accuracyTable(models: ModelScores[], chance: Record<Kind, number>): string[][] {
  const benchKeys = [...new Set(models.flatMap((m) => Object.keys(m.bench)))].sort((a, b) =>
    a === 'all' ? -1 : b === 'all' ? 1 : a.localeCompare(b),
  );
  const header = ['model', ...KINDS, ...benchKeys.map((k) => `LLaVA-Bench ${k}`)];
  const rows = models.map((m) => [
    m.name,
    ...KINDS.map((k) => (m.accuracy[k].total ? percent(m.accuracy[k].correct / m.accuracy[k].total) : '-')),
    ...benchKeys.map((k) => (k in m.bench ? m.bench[k]!.toFixed(1) : '-')),
  ]);
  return [header, ...rows, ['chance', ...KINDS.map((k) => percent(chance[k])), ...benchKeys.map(() => '')]];
}

/** The table as Markdown (the run's summary.md and the README). */
export function markdownTable(table: string[][]): string {
  const [header, ...rows] = table;
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header!), line(header!.map(() => '---')), ...rows.map(line)].join('\n');
}

function htmlTable(table: string[][], id: string): string {
  const [header, ...rows] = table;
  const cells = (r: string[], tag: string) => r.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('');
  return `<table id="${id}"><tr>${cells(header!, 'th')}</tr>${rows.map((r) => `<tr>${cells(r, 'td')}</tr>`).join('')}</table>`;
}

function samplesHtml(input: ReportInput): string {
  const byImage = new Map<string, QuestionLine[]>();
  for (const q of input.samples) byImage.set(q.image, [...(byImage.get(q.image) ?? []), q]);
  return [...byImage]
    .map(([image, questions]) => {
      const png = readFileSync(join(input.imageFolder, image)).toString('base64');
      const rows = questions
        .map(
          (q) =>
            `<tr><td>${escapeHtml(q.text.split('\n')[0]!)}</td><td>${escapeHtml(q.answer)}</td>${input.models
              .map((m) => `<td>${escapeHtml(m.answers.get(q.question_id) ?? '')}</td>`)
              .join('')}</tr>`,
        )
        .join('');
      const head = `<tr><th>question</th><th>truth</th>${input.models.map((m) => `<th>${escapeHtml(m.name)}</th>`).join('')}</tr>`;
      return `<div class="sample"><img src="data:image/png;base64,${png}" alt="${escapeHtml(image)}"><table>${head}${rows}</table></div>`;
    })
    .join('\n');
}

export function writeDemoReport(path: string, input: ReportInput): void {
  const curves = JSON.stringify(input.curves).replace(/</g, '\\u003c');
  const timings = input.timings.map((t) => `<li>${escapeHtml(t.stage)}: ${t.seconds.toFixed(1)} s</li>`).join('');
  const total = input.timings.reduce((s, t) => s + t.seconds, 0);
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body{font:14px sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.sample{display:flex;gap:1em;align-items:flex-start;margin:1em 0}
.sample img{width:128px;height:128px;image-rendering:pixelated;border:1px solid #ccc}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:1em}canvas{max-height:240px}
</style>
<script>${chartSource()}</script></head>
<body><h1>${escapeHtml(input.title)}</h1>
<h2>Held-out evaluation</h2>
${htmlTable(accuracyTable(input.models, input.chance), 'results')}
<ul>${input.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>
<h2>Learning curves</h2><div class="charts" id="charts"></div>
<h2>Sample held-out images</h2>
${samplesHtml(input)}
<h2>Time</h2><ul>${timings}<li>total: ${total.toFixed(1)} s</li></ul>
<script>
const curves = ${curves};
for (const c of curves) {
  const box = document.createElement('div');
  box.innerHTML = '<h3></h3><canvas></canvas>';
  box.querySelector('h3').textContent = c.name;
  document.getElementById('charts').appendChild(box);
  new Chart(box.querySelector('canvas'), { type: 'line', data: { datasets: [{ label: 'loss', data: c.points, pointRadius: 0 }] },
    options: { animation: false, parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'step' } } } } });
}
</script></body></html>
`;
  writeFileAtomic(path, (fd) => writeAll(fd, Buffer.from(html)));
}
