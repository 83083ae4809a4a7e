// <out>/ledger.jsonl: every HTTP attempt of every run on an output folder, so that the totals in
// summary.json cover killed runs too (a killed run never writes its summary). One line per event,
// appended synchronously:
//   {"e":"run"}                                   a run started
//   {"e":"send"}                                  an attempt is about to be sent
//   {"e":"retry","cause":"429"}                   it failed and is retried (RETRY_CAUSES)
//   {"e":"reply","prompt_tokens":P,"completion_tokens":C}   it brought a chat completion
//   {"e":"failed","reason":"http 400"}            the request was given up (retried by the next run)
// "send" is written before the request leaves, so attempts are never undercounted; a kill between
// the line and the socket write (microseconds) counts one attempt the server never saw. Attempts
// with no outcome line were in flight at a kill or a Ctrl-C. A torn last line is cut off on open.

import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { RETRY_CAUSES, type RetryCause, type Usage } from './client.js';
import { appendAll, scanLines } from './line-file.js';

export interface RequestCounts {
  /** HTTP requests sent, retries included. */
  attempts: number;
  /** Attempts answered with a chat completion (rejected replies included: they were paid for). */
  successes: number;
  /** Requests given up after their last attempt. */
  failed: number;
  retries: Record<RetryCause, number>;
  /** Replies that reported no token usage (some local servers): cost is understated. */
  without_usage: number;
  usage: Usage;
}

export function emptyCounts(): RequestCounts {
  return {
    attempts: 0,
    successes: 0,
    failed: 0,
    retries: Object.fromEntries(RETRY_CAUSES.map((c) => [c, 0])) as Record<RetryCause, number>,
    without_usage: 0,
    usage: { promptTokens: 0, completionTokens: 0 },
  };
}

type Event =
  | { e: 'run' }
  | { e: 'send' }
  | { e: 'retry'; cause: RetryCause }
  | { e: 'reply'; prompt_tokens?: number; completion_tokens?: number }
  | { e: 'failed'; reason: string };

function apply(counts: RequestCounts, event: Event): void {
  switch (event.e) {
    case 'send':
      counts.attempts++;
      return;
    case 'retry':
      counts.retries[event.cause]++;
      return;
    case 'reply':
      counts.successes++;
      if (event.prompt_tokens === undefined) counts.without_usage++;
      counts.usage.promptTokens += event.prompt_tokens ?? 0;
      counts.usage.completionTokens += event.completion_tokens ?? 0;
      return;
    case 'failed':
      counts.failed++;
      return;
    case 'run':
      return;
  }
}

function parseEvent(path: string, line: Buffer, index: number): Event {
  let event: Event | undefined;
  try {
    event = JSON.parse(line.toString('utf8')) as Event;
  } catch {
    // reported below
  }
  const known =
    event?.e === 'run' ||
    event?.e === 'send' ||
    event?.e === 'reply' ||
    event?.e === 'failed' ||
    (event?.e === 'retry' && (RETRY_CAUSES as readonly string[]).includes(event.cause));
  if (!known)
    throw new Error(`${path}:${index + 1}: corrupt line in the ledger of earlier runs; fix or remove it to resume`);
  return event!;
}

export class Ledger {
  /** This run's attempts. */
  readonly run = emptyCounts();

  private constructor(
    private readonly fd: number,
    /** Every run's, this one included. */
    readonly total: RequestCounts,
    /** Runs that worked on this folder, this one included. */
    readonly runs: number,
  ) {}

  static readonly FILE = 'ledger.jsonl';

  /** Reads the earlier runs' events in `dir` (the locked output folder) and starts this run. */
  static open(dir: string): Ledger {
    const path = join(dir, Ledger.FILE);
    const total = emptyCounts();
    let runs = 1;
    scanLines(path, (line, _offset, index) => {
      const event = parseEvent(path, line, index);
      if (event.e === 'run') runs++;
      apply(total, event);
    });
    const ledger = new Ledger(openSync(path, 'a'), total, runs);
    ledger.write({ e: 'run' });
    return ledger;
  }

  send(): void {
    this.record({ e: 'send' });
  }

  retry(cause: RetryCause): void {
    this.record({ e: 'retry', cause });
  }

  reply(usage: Usage | null): void {
    this.record(
      usage === null
        ? { e: 'reply' }
        : { e: 'reply', prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens },
    );
  }

  failed(reason: string): void {
    this.record({ e: 'failed', reason });
  }

  close(): void {
    closeSync(this.fd);
  }

  private record(event: Event): void {
    this.write(event);
    apply(this.run, event);
    apply(this.total, event);
  }

  private write(event: Event): void {
    appendAll(this.fd, Buffer.from(`${JSON.stringify(event)}\n`));
  }
}
