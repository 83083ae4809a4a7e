// The comparison of review files: the table holds each file's summary rows (which are checked
// byte for byte against the reference elsewhere), and the HTML page is self-contained (Chart.js
// inlined, nothing fetched) and, run with a stand-in Chart, draws one bar series per file.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { after, test } from 'node:test';
import { chartHtml, compare, formatComparison, summarize } from '../../src/eval/index.js';
import { EVAL_GOLDEN, expected, golden, MAIN } from './paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'llava-chart-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('chart: the table lists every file summary row side by side', () => {
  const summaries = summarize({ dir: golden('summary/reviews_wild') });
  const c = compare(summaries);
  assert.deepEqual(c.keys, ['all', 'llava_bench_complex', 'llava_bench_conv', 'llava_bench_detail']);
  const table = formatComparison(c).split('\n');
  assert.equal(table[0], '| category | llava-13b | llava-13b_0613 | llava-7b |');
  // The rows as the reference printed them (expected.json → summary dir_named_review).
  const printed = expected.summary.find((s: { name: string }) => s.name === 'dir_named_review').files;
  c.keys.forEach((key, i) => {
    const cells = printed.map((f: { rows: { key: string; printed: string }[] }) => {
      const [, rel, ref, cand] = f.rows.find((r) => r.key === key)!.printed.split(' ');
      return `${rel} (${ref} / ${cand})`;
    });
    assert.equal(table[i + 2], `| ${key} | ${cells.join(' | ')} |`);
  });
});

test('chart: a self-contained page that draws one series per file', () => {
  const out = join(tmp, 'chart.html');
  const r = spawnSync(process.execPath, [MAIN, 'eval', 'chart', '-d', 'summary/reviews_wild', '-o', out], {
    cwd: EVAL_GOLDEN,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(out, 'utf8');
  assert.match(html, /Chart\.js v4\.6\.1/);
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i, 'the page loads nothing');
  const scripts = [...html.matchAll(/<script(?: type="application\/json" id="([^"]+)")?>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 3);
  const data = scripts[1]![2]!;
  const drawn: { type: string; data: { labels: string[]; datasets: { label: string; data: number[] }[] } }[] = [];
  runInNewContext(scripts[2]![2]!, {
    document: { getElementById: (id: string) => (id === 'llava-data' ? { textContent: data } : { id }) },
    Chart: function (_canvas: unknown, config: (typeof drawn)[number]) {
      drawn.push(config);
    },
    JSON,
  });
  assert.equal(drawn.length, 1);
  assert.equal(drawn[0]!.type, 'bar');
  assert.deepEqual(drawn[0]!.data.labels, ['all', 'llava_bench_complex', 'llava_bench_conv', 'llava_bench_detail']);
  assert.deepEqual(
    drawn[0]!.data.datasets.map((d) => d.label),
    ['llava-13b', 'llava-13b_0613', 'llava-7b'],
  );
  assert.deepEqual(drawn[0]!.data.datasets[0]!.data, [87.5, 88.9, 93.3, 75.0]);
  // A label with markup is escaped in the table and cannot close the data script.
  const page = chartHtml({
    keys: ['all'],
    runs: [{ label: '</script><b>x', relative: [1], reference: [2], candidate: [3] }],
  });
  assert.ok(!page.includes('</script><b>'));
  assert.ok(page.includes('&lt;/script&gt;&lt;b&gt;x'));
});
