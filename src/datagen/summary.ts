// The account of a run, written to <out>/summary.json and printed at the end: what was made
// (records per type), what was dropped and why (rejects), what failed and will be retried
// (failures), what it cost (tokens, USD) and what the cache saved.

import type { Usage } from './client.js';
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
  retries: Record<string, number>;
  duplicate_inputs: number;
  /** without_usage: replies that reported no token usage (some local servers): cost is understated. */
  requests: { sent: number; cached: number; without_usage: number };
  usage: Usage;
  usage_saved_by_cache: Usage;
  /** null when the price table has no row for the model. */
  cost_usd: number | null;
  cost_saved_by_cache_usd: number | null;
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
    retries: {},
    duplicate_inputs: 0,
    requests: { sent: 0, cached: 0, without_usage: 0 },
    usage: { promptTokens: 0, completionTokens: 0 },
    usage_saved_by_cache: { promptTokens: 0, completionTokens: 0 },
    cost_usd: priced ? 0 : null,
    cost_saved_by_cache_usd: priced ? 0 : null,
    priced,
    elapsed_s: 0,
    stopped: null,
  };
}

function counts(table: Record<string, number>): string {
  const rows = Object.entries(table).sort((a, b) => b[1] - a[1]);
  return rows.length === 0 ? 'none' : rows.map(([k, n]) => `${k} ${n}`).join(', ');
}

function usd(value: number | null): string {
  return value === null ? 'unknown (no price for this model; see --prices)' : `$${value.toFixed(4)}`;
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
    `  retried:  ${counts(s.retries)}`,
    `  requests: ${s.requests.sent} sent, ${s.requests.cached} from cache`,
    `  tokens:   ${s.usage.promptTokens} prompt + ${s.usage.completionTokens} completion; cost ${usd(s.cost_usd)}` +
      (s.requests.without_usage > 0 ? ` (${s.requests.without_usage} replies reported no usage: understated)` : ''),
    `  cache saved ${s.usage_saved_by_cache.promptTokens + s.usage_saved_by_cache.completionTokens} tokens, ${usd(s.cost_saved_by_cache_usd)}`,
    ...(s.duplicate_inputs > 0 ? [`  duplicate input ids skipped: ${s.duplicate_inputs}`] : []),
  ].join('\n');
}
