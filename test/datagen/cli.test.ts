// The real `llava datagen` command as a child process against a loopback server: killed with
// SIGKILL or interrupted with SIGINT mid-run, then run again, it must end with the same bytes as
// an uninterrupted run, having paid only for the requests in flight at the kill.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { startFakeServer, validReply, type FakeServer } from './fake-server.js';
import { CAPS_BOXES_80, REFERENCE_PROMPTS } from './paths.js';
import { tempDir } from './tmp.js';

const MAIN = resolve('dist/src/cli/main.js');
let server: FakeServer;

before(async () => {
  server = await startFakeServer((request) => ({ kind: 'reply', content: validReply(request), delayMs: 10 }));
});
after(() => server.close());

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `llava datagen`; `whenLines` runs once the conversation file has that many lines. */
function datagen(
  args: string[],
  whenLines?: { lines: number; out: string; then: (pid: number) => void },
): Promise<Exit> {
  const child = spawn(process.execPath, [MAIN, 'datagen', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OPENAI_API_KEY: 'test' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let poll: NodeJS.Timeout | undefined;
  let fired = false; // polls overlap (each awaits a read): act once
  if (whenLines) {
    poll = setInterval(async () => {
      const text = await readFile(join(whenLines.out, 'conversation.jsonl'), 'utf8').catch(() => '');
      if (!fired && text.split('\n').length - 1 >= whenLines.lines) {
        fired = true;
        clearInterval(poll);
        whenLines.then(child.pid!);
      }
    }, 5);
  }
  return new Promise((done) =>
    child.on('close', (code, signal) => {
      clearInterval(poll);
      done({ code, signal, stdout, stderr });
    }),
  );
}

const runArgs = (out: string) => [
  '--input',
  CAPS_BOXES_80,
  '--prompts',
  REFERENCE_PROMPTS,
  '--out',
  out,
  '--model',
  'gpt-4o-mini',
  '--base-url',
  server.baseURL,
  '--concurrency',
  '4',
  '--timeout',
  '5',
  '--no-progress',
];

const outputNames = ['conversation.jsonl', 'detail_description.jsonl', 'complex_reasoning.jsonl', 'rejects.jsonl'];
const outputBytes = (dir: string) =>
  Promise.all(outputNames.map((n) => readFile(join(dir, n), 'utf8').catch(() => '')));

let uninterrupted: string[];

test('an uninterrupted run', async () => {
  const out = await tempDir('cli');
  const sent = server.requests.length;
  const exit = await datagen(runArgs(out));
  assert.equal(exit.code, 0, exit.stderr);
  assert.match(exit.stdout, /datagen finished: 240\/240 tasks/);
  assert.match(exit.stdout, /records: {2}(conversation|detail_description|complex_reasoning) 80/);
  assert.equal(server.requests.length - sent, 240);
  uninterrupted = await outputBytes(out);
  assert.equal(uninterrupted[0]!.split('\n').length - 1, 80);
});

test('kill -9 mid-run, run again: same output as the uninterrupted run, nothing lost or paid twice', async () => {
  const out = await tempDir('cli');
  const sent = server.requests.length;
  const killed = await datagen(runArgs(out), { lines: 20, out, then: (pid) => process.kill(pid, 'SIGKILL') });
  assert.equal(killed.signal, 'SIGKILL');
  const partial = (await outputBytes(out)).map((t) => t.split('\n').length - 1);
  const committed = partial.reduce((a, b) => a + b, 0);
  assert.ok(partial[0]! >= 20 && partial[0]! < 80, `killed mid-run (${partial[0]} conversation records)`);

  const sentBeforeResume = server.requests.length;
  const resumed = await datagen(runArgs(out));
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`datagen finished: ${240 - committed}/${240 - committed} tasks`));
  assert.deepEqual(await outputBytes(out), uninterrupted);
  // Requests answered before the kill were cached (or committed): the second run sends only the rest.
  assert.ok(server.requests.length - sentBeforeResume <= 240 - committed);
  assert.ok(
    server.requests.length - sent <= 240 + 4,
    `${server.requests.length - sent} requests for 240 tasks at concurrency 4`,
  );
});

test('Ctrl-C stops cleanly with exit code 130; running again completes the same output', async () => {
  const out = await tempDir('cli');
  const interrupted = await datagen(runArgs(out), { lines: 10, out, then: (pid) => process.kill(pid, 'SIGINT') });
  assert.equal(interrupted.code, 130, interrupted.stderr);
  assert.match(interrupted.stderr, /interrupted; finishing up/);
  assert.match(interrupted.stdout, /datagen interrupted: \d+\/240 tasks/);
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as {
    stopped: string;
    unfinished: number;
  };
  assert.equal(summary.stopped, 'interrupted');
  assert.ok(summary.unfinished > 0);
  const resumed = await datagen(runArgs(out));
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(await outputBytes(out), uninterrupted);
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
  const badNumber = await datagen([...runArgs(out), '--concurrency', '0']);
  assert.equal(badNumber.code, 2);
  assert.match(badNumber.stderr, /--concurrency must be an integer >= 1, got '0'/);
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
