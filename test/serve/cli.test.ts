// The terminal commands as a user runs them (child processes of the built CLI): `llava run --json`, a scripted
// `llava chat` session with history, /reset and /quit, and `llava serve` answering until SIGINT. Expected replies
// come from model.generate in this process on the same checkpoint (greedy: --temperature 0).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlavaProcessor } from '../../src/serve/processor.js';
import type { ChatMessage } from '../../src/text/chat-template.js';
import { coordinates, rawImage } from '../helpers/text-images.js';
import { startServe } from '../helpers/serve-process.js';
import { ids } from '../helpers/golden.js';
import { tempDir, writeSmallLlava } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const temp = tempDir('llava-cli-');
const dir = join(temp.dir, 'tiny-llava');
mkdirSync(dir);
const model = writeSmallLlava(dir);
const processor = LlavaProcessor.fromPretrained(dir);
const imagePath = join(temp.dir, 'image.png');
writeFileSync(imagePath, await rawImage(coordinates(30, 20), 30, 20, 3).png().toBuffer());
after(() => temp.remove());

function cli(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

async function greedy(messages: ChatMessage[], images: string[], maxNewTokens: number) {
  const inputs = await processor.process({ messages, images });
  const L = inputs.inputIds.size(1);
  const seq = await model.generate({ ...inputs, maxNewTokens });
  let tokens = ids(seq.narrow(1, L, seq.size(1) - L));
  if (tokens.includes(2)) tokens = tokens.slice(0, tokens.indexOf(2) + 1);
  return { text: processor.tokenizer.decode(tokens, { skipSpecialTokens: true }), tokens: tokens.length, prompt: L };
}

test('llava run --json answers one question about an image', async () => {
  const q: ChatMessage[] = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is this?' }] }];
  const want = await greedy(q, [imagePath], 8);
  const r = await cli([
    'run',
    '--model',
    dir,
    '--image',
    imagePath,
    '--prompt',
    'What is this?',
    '--json',
    '--temperature',
    '0',
    '--max-new-tokens',
    '8',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(out.text, want.text);
  assert.equal(out.completion_tokens, want.tokens);
  assert.equal(out.prompt_tokens, want.prompt);
  assert.equal(out.model, 'tiny-llava');
  const plain = await cli([
    'run',
    '--model',
    dir,
    '--image',
    imagePath,
    '--prompt',
    'What is this?',
    '--temperature',
    '0',
    '--max-new-tokens',
    '8',
  ]);
  assert.equal(plain.stdout, `${want.text}\n`);
  const missing = await cli(['run', '--model', dir]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--prompt are required/);
});

test('llava chat keeps the history in the template, /reset starts over, /quit leaves', async () => {
  const flags = ['chat', '--model', dir, '--image', imagePath, '--temperature', '0', '--max-new-tokens', '6'];
  const r = await cli(flags, 'Hello\nAnd then?\n/reset\nAnd then?\n/quit\nnever read\n');
  assert.equal(r.code, 0, r.stderr);
  const replies = r.stdout
    .split('ASSISTANT: ')
    .slice(1)
    .map((s) => s.slice(0, s.indexOf('\nUSER: ')));
  const first: ChatMessage[] = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Hello' }] }];
  const r1 = await greedy(first, [imagePath], 6);
  const second: ChatMessage[] = [
    ...first,
    { role: 'assistant', content: r1.text.trim() },
    { role: 'user', content: 'And then?' },
  ];
  const r2 = await greedy(second, [imagePath], 6);
  const fresh: ChatMessage[] = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'And then?' }] }];
  const r3 = await greedy(fresh, [imagePath], 6);
  assert.deepEqual(replies, [r1.text, r2.text, r3.text]);
  assert.ok(r.stdout.includes('(new conversation)'));
  assert.notEqual(r2.text, r3.text, 'premise: the history changes the reply');
});

test('llava serve answers over HTTP until SIGINT', async () => {
  const serve = await startServe(['--model', dir, '--port', '0']);
  const url = serve.url;
  const health = (await (await fetch(`${url}/health`)).json()) as { status: string; model: string };
  assert.deepEqual([health.status, health.model], ['ok', 'tiny-llava']);
  const page = await fetch(`${url}/`);
  assert.match(await page.text(), /<title>llava-ts chat<\/title>/);
  assert.equal(await serve.stop(), 0, serve.stderr());
});
