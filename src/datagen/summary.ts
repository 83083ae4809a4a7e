// The account of a run, written to <out>/summary.json and printed at the end: what was made
// (records per type), what was dropped and why (rejects), what failed and will be retried
// (failures), what it cost (tokens, USD) and what the cache saved, for this run and, from the
// ledger, for every run on the output folder (killed runs included).

import type { Usage } from './client.js';
import { emptyCounts, type RequestCounts } from './ledger.js';
import { formatDuration } from './progress.js';

export interface DatagenSummary {
  model: string;
  /** Tasks (image x type) this run set out to do; earlier runs' work is in `resumed`. */
  tasks: number;
  finished: number;
  /** Tasks still to do (failed or never reached): the next run picks them up. */
  unfinished: number;
  resumed: { records: number; rejects: number };
  records: Record<string, number>;
  rejects: Record<string, number>;
  failed: number;
  failures: Record<string, number>;
  duplicate_inputs: number;
  /** This run's HTTP attempts and tokens; `cached`: replies the cache gave instead. */
  requests: RequestCounts & { cached: number };
  /** null when the price table has no row for the model. */
  cost_usd: number | null;
  usage_saved_by_cache: Usage;
  cost_saved_by_cache_usd: number | null;
  /** Every run on this output folder, this one and killed ones included (from ledger.jsonl), priced at today's table. */
  totals: RequestCounts & { runs: number; cost_usd: number | null };
  priced: boolean;
  elapsed_s: number;
  /** Why the run ended early ('interrupted', 'stopped: ...'), or null when it went through. */
  stopped: string | null;
}

export function emptySummary(model: string, priced: boolean): DatagenSummary {
  return {
    model,
    tasks: 0,
    finished: 0,
    unfinished: 0,
    resumed: { records: 0, rejects: 0 },
    records: {},
    rejects: {},
    failed: 0,
    failures: {},
    duplicate_inputs: 0,
    requests: { ...emptyCounts(), cached: 0 },
    cost_usd: priced ? 0 : null,
    usage_saved_by_cache: { promptTokens: 0, completionTokens: 0 },
    cost_saved_by_cache_usd: priced ? 0 : null,
    totals: { ...emptyCounts(), runs: 1, cost_usd: priced ? 0 : null },
    priced,
    elapsed_s: 0,
    stopped: null,
  };
}

function counts(table: Record<string, number>): string {
  const rows = Object.entries(table)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return rows.length === 0 ? 'none' : rows.map(([k, n]) => `${k} ${n}`).join(', ');
}

function usd(value: number | null): string {
  return value === null ? 'unknown (no price for this model; see --prices)' : `$${value.toFixed(4)}`;
}

function tokens(r: RequestCounts, cost: number | null): string {
  const understated = r.without_usage > 0 ? ` (${r.without_usage} replies reported no usage: understated)` : '';
  return `${r.usage.promptTokens} prompt + ${r.usage.completionTokens} completion tokens, cost ${usd(cost)}${understated}`;
}

export function formatSummary(s: DatagenSummary): string {
  const rate = s.elapsed_s > 0 ? (s.finished / s.elapsed_s).toFixed(1) : '-';
  return [
    `datagen ${s.stopped ? s.stopped : 'finished'}: ${s.finished}/${s.tasks} tasks in ${formatDuration(s.elapsed_s)} (${rate}/s)` +
      (s.resumed.records + s.resumed.rejects > 0
        ? `; ${s.resumed.records} records and ${s.resumed.rejects} rejects from earlier runs kept`
        : ''),
    `  records:  ${counts(s.records)}`,
    `  rejected: ${counts(s.rejects)}`,
    `  failed:   ${counts(s.failures)}${s.unfinished > 0 ? ` (${s.unfinished} tasks left: run the same command again)` : ''}`,
    `  requests: ${s.requests.attempts} sent, ${s.requests.successes} answered, ${s.requests.cached} from cache; retried ${counts(s.requests.retries)}`,
    `  tokens:   ${tokens(s.requests, s.cost_usd)}`,
    `  cache saved ${s.usage_saved_by_cache.promptTokens + s.usage_saved_by_cache.completionTokens} tokens, ${usd(s.cost_saved_by_cache_usd)}`,
    ...(s.totals.runs > 1
      ? [
          `  all ${s.totals.runs} runs on this folder: ${s.totals.attempts} sent, ${s.totals.successes} answered, ${s.totals.failed} given up; retried ${counts(s.totals.retries)}; ${tokens(s.totals, s.totals.cost_usd)}`,
        ]
      : []),
    ...(s.duplicate_inputs > 0 ? [`  duplicate input ids skipped: ${s.duplicate_inputs}`] : []),
  ].join('\n');
}
