// The real `llava datagen` command as a child process against a loopback server: killed with
// SIGKILL or interrupted with SIGINT with requests in flight, then run again, it must end with the
// same bytes as an uninterrupted run, having paid again only for the requests in flight, and its
// totals must count every attempt the server saw.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import type { DatagenSummary } from '../../src/datagen/index.js';
import { queryOf, startFakeServer, typeOf, validReply, type Action, type FakeServer } from './fake-server.js';
import { CAPS_BOXES_80, REFERENCE_PROMPTS } from './paths.js';
import { tempDir } from './tmp.js';

const MAIN = resolve('dist/src/cli/main.js');
const servers: FakeServer[] = [];
let server: FakeServer;

before(async () => {
  server = await startFakeServer((request) => ({ kind: 'reply', content: validReply(request), delayMs: 10 }));
  servers.push(server);
});
after(() => Promise.all(servers.map((s) => s.close())));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `llava datagen` to its end; `started` gets the child process. */
function datagen(args: string[], started?: (child: ChildProcess) => void): Promise<Exit> {
  const child = spawn(process.execPath, [MAIN, 'datagen', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OPENAI_API_KEY: 'test' },
  });
  started?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((done) => child.on('close', (code, signal) => done({ code, signal, stdout, stderr })));
}

const runArgs = (out: string, baseURL = server.baseURL, concurrency = 4) => [
  '--input',
  CAPS_BOXES_80,
  '--prompts',
  REFERENCE_PROMPTS,
  '--out',
  out,
  '--model',
  'gpt-4o-mini',
  '--base-url',
  baseURL,
  '--concurrency',
  String(concurrency),
  '--timeout',
  '5',
  '--backoff-base',
  '0.001',
  '--backoff-cap',
  '0.005',
  '--no-progress',
];

const outputNames = ['conversation.jsonl', 'detail_description.jsonl', 'complex_reasoning.jsonl', 'rejects.jsonl'];
const outputBytes = (dir: string) =>
  Promise.all(outputNames.map((n) => readFile(join(dir, n), 'utf8').catch(() => '')));
const readSummary = async (dir: string) =>
  JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as DatagenSummary;

let uninterrupted: string[];

test('an uninterrupted run, at concurrency 16 without listener warnings', async () => {
  const out = await tempDir('cli');
  const sent = server.requests.length;
  const exit = await datagen(runArgs(out, server.baseURL, 16));
  assert.equal(exit.code, 0, exit.stderr);
  assert.match(exit.stdout, /datagen finished: 240\/240 tasks/);
  assert.match(exit.stdout, /records: {2}(conversation|detail_description|complex_reasoning) 80/);
  assert.equal(exit.stderr, '', 'nothing on stderr: no MaxListenersExceededWarning or other warning');
  assert.equal(server.requests.length - sent, 240);
  uninterrupted = await outputBytes(out);
  assert.equal(uninterrupted[0]!.split('\n').length - 1, 80);
});

const CONCURRENCY = 4;

/**
 * A server that answers (with trouble on the first attempt of some requests, tallied by cause) until
 * `holdFrom` requests have come, then answers nothing more. Once CONCURRENCY requests are held, every
 * worker of the child waits on one and nothing else is pending: `stop` is called then. `release()`
 * ends the holding (held requests are dropped) and makes it answer everything again.
 */
async function holdingServer(holdFrom: number, stop: () => void) {
  const tally = { attempts: 0, replies: 0, held: 0, '429': 0, '5xx': 0, network: 0, malformed: 0 };
  const heldQueries: string[] = [];
  const releases: (() => void)[] = [];
  let holding = true;
  const troubles: [keyof typeof tally, Action][] = [
    ['429', { kind: 'status', status: 429 }],
    ['5xx', { kind: 'status', status: 500 }],
    ['network', { kind: 'drop' }],
    ['malformed', { kind: 'malformed', body: '{"choices": [' }],
    ['5xx', { kind: 'status', status: 503 }],
  ];
  const seen = new Set<string>();
  const held = await startFakeServer((request, index) => {
    tally.attempts++;
    const query = `${typeOf(request)}\n${queryOf(request)}`;
    const first = !seen.has(query);
    seen.add(query);
    if (holding && index >= holdFrom) {
      heldQueries.push(query);
      if (++tally.held === CONCURRENCY) stop();
      return new Promise<Action>((resolve) => releases.push(() => resolve({ kind: 'drop' })));
    }
    const trouble = first && typeOf(request) === 'conversation' ? troubles[queryOf(request).length % 7] : undefined;
    if (trouble) {
      tally[trouble[0]]++;
      return trouble[1];
    }
    tally.replies++;
    return { kind: 'reply', content: validReply(request), delayMs: 10 };
  });
  servers.push(held);
  const release = () => {
    holding = false;
    for (const r of releases.splice(0)) r();
  };
  return { server: held, tally, heldQueries, release };
}

// A guard, not a measurement: should the child never reach the held state, the test fails instead of waiting.
const HANG_GUARD = { timeout: 120_000 };

test(
  'kill -9 with requests in flight, run again: same output, only those requests paid again, every attempt counted',
  HANG_GUARD,
  async () => {
    const out = await tempDir('cli');
    let child: ChildProcess | undefined;
    const h = await holdingServer(150, () => child!.kill('SIGKILL'));
    const killed = await datagen(runArgs(out, h.server.baseURL), (c) => (child = c));
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(h.tally.held, CONCURRENCY);
    const paidBeforeKill = h.tally.replies;
    const committed = (await outputBytes(out)).reduce((n, text) => n + text.split('\n').length - 1, 0);
    assert.ok(committed > 0 && committed < 240, `killed mid-run (${committed} tasks committed)`);

    h.release();
    const requestsBefore = h.server.requests.length;
    const resumed = await datagen(runArgs(out, h.server.baseURL));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`datagen finished: ${240 - committed}/${240 - committed} tasks`));
    assert.deepEqual(await outputBytes(out), uninterrupted);
    // Every reply paid before the kill was in the cache: the server answered each task once over
    // both runs, and what was sent twice is exactly the requests in flight at the kill.
    assert.equal(h.tally.replies, 240);
    const resent = new Set(h.server.requests.slice(requestsBefore).map((r) => `${typeOf(r)}\n${queryOf(r)}`));
    assert.equal(resent.size, 240 - paidBeforeKill);
    for (const query of h.heldQueries) assert.ok(resent.has(query), 'a request in flight at the kill is sent again');

    // Totals over both runs (the killed one wrote no summary) equal the server's own counts.
    const { totals } = await readSummary(out);
    assert.equal(totals.runs, 2);
    assert.equal(totals.attempts, h.server.requests.length);
    assert.equal(totals.attempts, h.tally.attempts);
    assert.equal(totals.successes, h.tally.replies);
    assert.equal(totals.successes, 240);
    assert.deepEqual(totals.retries, {
      '429': h.tally['429'],
      '5xx': h.tally['5xx'],
      '408/409': 0,
      timeout: 0,
      network: h.tally.network,
      malformed: h.tally.malformed,
    });
    assert.ok(
      h.tally['429'] > 0 && h.tally['5xx'] > 0 && h.tally.network > 0 && h.tally.malformed > 0,
      'all causes met',
    );
    assert.equal(
      totals.attempts,
      240 + CONCURRENCY + h.tally['429'] + h.tally['5xx'] + h.tally.network + h.tally.malformed,
    );
  },
);

test('Ctrl-C stops cleanly with exit code 130; running again completes the same output', HANG_GUARD, async () => {
  const out = await tempDir('cli');
  let child: ChildProcess | undefined;
  const h = await holdingServer(60, () => child!.kill('SIGINT'));
  const interrupted = await datagen(runArgs(out, h.server.baseURL), (c) => (child = c));
  assert.equal(interrupted.code, 130, interrupted.stderr);
  assert.match(interrupted.stderr, /interrupted; finishing up/);
  assert.match(interrupted.stdout, /datagen interrupted: \d+\/240 tasks/);
  const summary = await readSummary(out);
  assert.equal(summary.stopped, 'interrupted');
  assert.ok(summary.unfinished > 0);
  assert.equal(summary.totals.attempts, h.server.requests.length);
  h.release();
  const resumed = await datagen(runArgs(out, h.server.baseURL));
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(await outputBytes(out), uninterrupted);
  assert.match(resumed.stdout, /all 2 runs on this folder: \d+ sent, 240 answered, 0 given up/);
  assert.equal((await readSummary(out)).totals.attempts, h.server.requests.length);
});

test('usage errors exit 2 and say what is wrong', async () => {
  const out = await tempDir('cli');
  const cases: [string[], RegExp][] = [
    [['--input', CAPS_BOXES_80, '--out', out], /--model NAME is required/],
    [['--model', 'm', '--out', out], /an input is required/],
    [
      ['--input', CAPS_BOXES_80, '--out', out, '--model', 'm', '--types', 'conversation,captions'],
      /--types: unknown type\(s\) captions/,
    ],
    [
      ['--input', CAPS_BOXES_80, '--out', out, '--model', 'm', '--image-placement', 'middle'],
      /--image-placement must be first or random, got 'middle'/,
    ],
    [
      ['--input', CAPS_BOXES_80, '--out', out, '--model', 'm', '--base-url', 'localhost:8000/v1'],
      /--base-url must be an http:\/\/ or https:\/\/ URL/,
    ],
  ];
  for (const [args, message] of cases) {
    const exit = await datagen(args);
    assert.equal(exit.code, 2, args.join(' '));
    assert.match(exit.stderr, message);
  }
  for (const [flags, message] of [
    [['--concurrency', '0'], /--concurrency must be an integer >= 1, got '0'/],
    [['--backoff-base', '0'], /--backoff-base must be a number >= 0.001, got '0'/],
    [['--backoff-base', '2', '--backoff-cap', '1'], /--backoff-cap \(1\) must be at least --backoff-base \(2\)/],
  ] as const) {
    const bad = await datagen([...runArgs(out), ...flags]);
    assert.equal(bad.code, 2, flags.join(' '));
    assert.match(bad.stderr, message);
  }
  const help = await datagen(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: llava datagen/);
});

/** Every module reachable from `entry` through static or dynamic imports of relative paths. */
async function importGraph(entry: string): Promise<{ files: string[]; packages: Set<string> }> {
  const files: string[] = [];
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.includes(file)) continue;
    files.push(file);
    const source = await readFile(file, 'utf8');
    for (const m of source.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
      else packages.add(spec.startsWith('node:') ? 'node:' : spec);
    }
  }
  return { files, packages };
}

test('llava datagen and the library entry load no tensor code and no native addon', async () => {
  for (const entry of ['dist/src/cli/datagen.js', 'dist/src/datagen/index.js']) {
    const { files, packages } = await importGraph(resolve(entry));
    // Besides itself, the data engine may use the text layer's <image> placement (no tokenizer) and
    // the training data's record scanner (node:fs only).
    const shared = [
      '/dist/src/text/image-placement.js',
      '/dist/src/text/image-token.js',
      '/dist/src/data/json-records.js',
    ];
    const allowed = (file: string) =>
      file.includes('/dist/src/datagen/') ||
      file.endsWith('/dist/src/cli/datagen.js') ||
      shared.some((s) => file.endsWith(s));
    for (const file of files) assert.ok(allowed(file), `${entry} reaches ${file}`);
    assert.ok(
      files.some((f) => f.endsWith('/dist/src/datagen/run.js')),
      'the graph was followed',
    );
    assert.deepEqual([...packages].sort(), ['node:', 'openai']);
  }
});
