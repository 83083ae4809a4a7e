import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_PRICES, estimateCost, formatSummary, loadPrices, priceFor } from '../../src/datagen/index.js';
import { formatDuration, renderProgress } from '../../src/datagen/progress.js';
import { emptySummary } from '../../src/datagen/summary.js';
import { tempDir } from './tmp.js';

test('prices: longest model-name prefix wins; unknown models have no price', () => {
  assert.deepEqual(priceFor(DEFAULT_PRICES, 'gpt-4o-mini-2024-07-18'), { input: 0.15, output: 0.6 });
  assert.deepEqual(priceFor(DEFAULT_PRICES, 'gpt-4o-2024-08-06'), { input: 2.5, output: 10 });
  assert.deepEqual(priceFor(DEFAULT_PRICES, 'gpt-4-0314'), { input: 30, output: 60 });
  assert.equal(priceFor(DEFAULT_PRICES, 'llama3:8b'), undefined);
  // 1000 prompt tokens at $30/M + 500 completion tokens at $60/M = $0.03 + $0.03.
  assert.equal(estimateCost({ input: 30, output: 60 }, { promptTokens: 1000, completionTokens: 500 }), 0.06);
  assert.equal(estimateCost(undefined, { promptTokens: 1, completionTokens: 1 }), undefined);
});

test('a price file adds and overrides rows, and bad rows are named', async () => {
  const dir = await tempDir('prices');
  await writeFile(
    join(dir, 'p.json'),
    JSON.stringify({ llama3: { input: 0, output: 0 }, 'gpt-4o': { input: 1, output: 2 } }),
  );
  const table = await loadPrices(join(dir, 'p.json'));
  assert.deepEqual(priceFor(table, 'llama3:8b'), { input: 0, output: 0 });
  assert.deepEqual(priceFor(table, 'gpt-4o'), { input: 1, output: 2 });
  assert.deepEqual(priceFor(table, 'gpt-4o-mini'), { input: 0.15, output: 0.6 });
  await writeFile(join(dir, 'bad.json'), JSON.stringify({ m: { input: -1, output: 2 } }));
  await assert.rejects(
    loadPrices(join(dir, 'bad.json')),
    /bad\.json: "m" needs non-negative numbers "input" and "output"/,
  );
  await assert.rejects(loadPrices(join(dir, 'missing.json')), /prices: cannot read .*missing\.json/);
});

test('the progress line shows bar, counts, rate, ETA, cost and failures', () => {
  // 250 of 1000 in 10 s: 25/s, 750 left -> 30 s.
  assert.equal(
    renderProgress({ finished: 250, total: 1000, costUsd: 1.5, failed: 2 }, 10, 8),
    '[##------] 250/1000 25.0% | 25.0/s | ETA 30s | $1.5000 | 2 failed',
  );
  assert.equal(
    renderProgress({ finished: 0, total: 10, failed: 0 }, 0, 4),
    '[----] 0/10 0.0% | 0.0/s | ETA ? | $? | 0 failed',
  );
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(125), '2m05s');
});

test('the summary lists records per type, failures by reason and what to do next', () => {
  const s = emptySummary('gpt-4o-mini', true);
  Object.assign(s, {
    tasks: 10,
    finished: 9,
    unfinished: 2,
    failed: 1,
    elapsed_s: 3,
    records: { conversation: 7 },
    rejects: { refusal: 1 },
    failures: { 'http 503': 1 },
  });
  Object.assign(s.requests, { attempts: 12, successes: 9, failed: 1, cached: 2 });
  s.requests.retries['429'] = 2;
  s.requests.retries.timeout = 1;
  const text = formatSummary(s);
  assert.match(text, /^datagen finished: 9\/10 tasks in 3s \(3\.0\/s\)/);
  assert.match(text, /records: {2}conversation 7/);
  assert.match(text, /rejected: refusal 1/);
  assert.match(text, /failed: {3}http 503 1 \(2 tasks left: run the same command again\)/);
  assert.match(text, /requests: 12 sent, 9 answered, 2 from cache; retried 429 2, timeout 1\n/);
  assert.doesNotMatch(text, /all \d+ runs/, 'one run: no totals line');
  assert.match(formatSummary(emptySummary('local', false)), /cost unknown \(no price for this model; see --prices\)/);
  s.requests.without_usage = 3;
  assert.match(formatSummary(s), /\(3 replies reported no usage: understated\)/);
  Object.assign(s.totals, { runs: 3, attempts: 40, successes: 30, failed: 2, cost_usd: 0.5 });
  s.totals.retries['5xx'] = 7;
  s.totals.usage.promptTokens = 1000;
  assert.match(
    formatSummary(s),
    /all 3 runs on this folder: 40 sent, 30 answered, 2 given up; retried 5xx 7; 1000 prompt \+ 0 completion tokens, cost \$0\.5000/,
  );
});
