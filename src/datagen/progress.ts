// A progress line on stderr: bar, finished/total, rate, ETA, cost so far, failures. On a terminal
// it redraws in place (at most 5 times a second); into a file or pipe it prints a line every
// `intervalMs` so that logs of long jobs still show progress.

export interface ProgressState {
  finished: number;
  total: number;
  costUsd?: number;
  failed: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export function renderProgress(state: ProgressState, elapsedSeconds: number, width = 24): string {
  const fraction = state.total === 0 ? 1 : state.finished / state.total;
  const filled = Math.round(fraction * width);
  const rate = elapsedSeconds > 0 ? state.finished / elapsedSeconds : 0;
  const eta = rate > 0 ? (state.total - state.finished) / rate : Infinity;
  const cost = state.costUsd === undefined ? '$?' : `$${state.costUsd.toFixed(4)}`;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${state.finished}/${state.total} ${(fraction * 100).toFixed(1)}% | ${rate.toFixed(1)}/s | ETA ${formatDuration(eta)} | ${cost} | ${state.failed} failed`;
}

export class Progress {
  private readonly start = Date.now();
  private last = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream | null,
    private readonly intervalMs = 10_000,
  ) {}

  update(state: ProgressState, force = false): void {
    if (!this.stream) return;
    const now = Date.now();
    const tty = this.stream.isTTY === true;
    if (!force && now - this.last < (tty ? 200 : this.intervalMs)) return;
    this.last = now;
    const line = renderProgress(state, (now - this.start) / 1000);
    this.stream.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }

  /** Draws the final state and ends the in-place line. */
  done(state: ProgressState): void {
    this.update(state, true);
    if (this.stream?.isTTY) this.stream.write('\n');
  }
}
