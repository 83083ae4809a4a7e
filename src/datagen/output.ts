// The output folder of a run, written incrementally and resumable:
//   <type>.jsonl    LLaVA instruction records, one JSON per line, one file per prompt type
//   rejects.jsonl   replies dropped for good, with the reason (unparseable, refused, duplicate...)
//   failures.jsonl  requests that failed this time (network, server); retried by the next run
//   run.json        the settings that shape the records; a resume with other settings is refused
//   summary.json    the account of the last run and the totals of all (see summary.ts)
//   ledger.jsonl    every HTTP attempt of every run (written by Ledger)
//   .lock           the pid of the run writing here: two live runs on one folder would write twice
// A task (type, id) is done once its record or reject line is in place. Each line is written with
// one write call; a kill can at most leave a torn last line, which the next open cuts off.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lockFolder } from './folder-lock.js';
import { appendAll, scanLines } from './line-file.js';
import { PROMPT_TYPES, type PromptType } from './prompts.js';
import type { InstructionRecord } from './record.js';

export interface RejectLine {
  type: PromptType;
  id: string;
  reason: string;
  detail: string;
  reply?: string;
}
export interface FailureLine {
  type: PromptType;
  id: string;
  reason: string;
  message: string;
}

export function taskKey(type: PromptType, id: string): string {
  return `${type}\t${id}`;
}

/** Identity of a record's content: the model-written answers (questions may be drawn instructions). */
export function answersHash(type: PromptType, record: InstructionRecord): string {
  const answers = record.conversations.filter((t) => t.from === 'gpt').map((t) => t.value);
  return createHash('sha256')
    .update([type, ...answers].join('\0'))
    .digest('hex')
    .slice(0, 32);
}

function parseLine(path: string, bytes: Buffer, i: number): Record<string, unknown> {
  try {
    return JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error(
      `${path}:${i + 1}: corrupt line in the output of an earlier run (not JSON); fix or remove it to resume`,
    );
  }
}

export class OutputStore {
  /** Tasks already finished by this or an earlier run. */
  readonly done = new Set<string>();
  /** answersHash -> record id, per type, to drop duplicate replies. */
  private readonly seen = new Map<string, string>();
  private readonly fds = new Map<string, number>();
  resumedRecords = 0;
  resumedRejects = 0;

  private constructor(
    readonly dir: string,
    private readonly unlock: () => void,
  ) {}

  /**
   * Opens (creating) `dir`. `settings` are compared with those of the run that started the folder:
   * records made under other settings must not be mixed into one data set.
   */
  static open(dir: string, settings: Record<string, unknown>): OutputStore {
    mkdirSync(dir, { recursive: true });
    const store = new OutputStore(dir, lockFolder(dir));
    try {
      store.scan(settings);
    } catch (err) {
      store.close();
      throw err;
    }
    return store;
  }

  /** Checks the settings and reads what earlier runs finished, cutting torn last lines. */
  private scan(settings: Record<string, unknown>): void {
    const { dir } = this;
    this.checkSettings(settings);
    for (const type of PROMPT_TYPES) {
      const path = join(dir, `${type}.jsonl`);
      scanLines(path, (line, _offset, i) => {
        const record = parseLine(path, line, i) as unknown as InstructionRecord;
        this.done.add(taskKey(type, record.id));
        this.seen.set(answersHash(type, record), record.id);
        this.resumedRecords++;
      });
    }
    const rejects = join(dir, 'rejects.jsonl');
    scanLines(rejects, (line, _offset, i) => {
      const reject = parseLine(rejects, line, i) as unknown as RejectLine;
      this.done.add(taskKey(reject.type, reject.id));
      this.resumedRejects++;
    });
    scanLines(join(dir, 'failures.jsonl'), () => {});
  }

  /**
   * Settings are flat key -> value. A key known to both runs must agree; keys new to this run
   * (say the first prompt hash of a type added later) are merged into run.json.
   */
  private checkSettings(settings: Record<string, unknown>): void {
    const path = join(this.dir, 'run.json');
    const before = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : {};
    const changed = Object.keys(settings)
      .filter((k) => k in before && JSON.stringify(before[k]) !== JSON.stringify(settings[k]))
      .map((k) => `${k}: ${JSON.stringify(before[k])} -> ${JSON.stringify(settings[k])}`);
    if (changed.length > 0) {
      throw new Error(
        `${this.dir} was started with other settings (${changed.join('; ')}); resume with the same settings or write to a new --out folder`,
      );
    }
    writeFileSync(`${path}.tmp`, `${JSON.stringify({ ...before, ...settings }, null, 2)}\n`);
    renameSync(`${path}.tmp`, path);
  }

  /** The id of an earlier record of this type with the same answers, if any. */
  duplicateOf(type: PromptType, record: InstructionRecord): string | undefined {
    return this.seen.get(answersHash(type, record));
  }

  writeRecord(type: PromptType, record: InstructionRecord): void {
    this.seen.set(answersHash(type, record), record.id);
    this.append(`${type}.jsonl`, record);
    this.done.add(taskKey(type, record.id));
  }

  writeReject(reject: RejectLine): void {
    this.append('rejects.jsonl', reject);
    this.done.add(taskKey(reject.type, reject.id));
  }

  writeFailure(failure: FailureLine): void {
    this.append('failures.jsonl', failure);
  }

  writeSummary(summary: unknown): void {
    const path = join(this.dir, 'summary.json');
    writeFileSync(`${path}.tmp`, `${JSON.stringify(summary, null, 2)}\n`);
    renameSync(`${path}.tmp`, path);
  }

  private append(name: string, value: unknown): void {
    let fd = this.fds.get(name);
    if (fd === undefined) {
      fd = openSync(join(this.dir, name), 'a');
      this.fds.set(name, fd);
    }
    appendAll(fd, Buffer.from(`${JSON.stringify(value)}\n`));
  }

  /** Closes the files and releases the folder. */
  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
    this.unlock();
  }
}
