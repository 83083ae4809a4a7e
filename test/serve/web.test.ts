// The web chat page end to end in a real browser: Debian's Chromium, headless, driven by playwright-core. Upload an
// image, ask, watch the answer arrive chunk by chunk, compare it with model.generate on the same image and question,
// ask again with the history, start over; drop and paste set the image too. The screenshot is kept as a test
// artifact in test-artifacts/ (gitignored), deliberately not removed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { LlavaForConditionalGeneration } from '../../src/models/llava.js';
import { LlavaProcessor } from '../../src/serve/processor.js';
import { BatchEngine } from '../../src/serve/engine.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import type { ChatMessage } from '../../src/text/chat-template.js';
import { coordinates, rawImage } from '../helpers/text-images.js';
import { ids } from '../helpers/golden.js';
import { tempDir, writeSmallLlava } from './helpers.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const temp = tempDir('llava-web-');
writeSmallLlava(temp.dir);
const model = LlavaForConditionalGeneration.fromPretrained(temp.dir);
model.eval();
const processor = LlavaProcessor.fromPretrained(temp.dir);
const engine = new BatchEngine(model, processor.tokenizer, { maxBatch: 2 });
const imagePath = join(temp.dir, 'picture.png');
let server: RunningServer;
let browser: Browser;

before(async () => {
  writeFileSync(imagePath, await rawImage(coordinates(48, 36), 48, 36, 3).png().toBuffer());
  server = await startServer({ modelId: 'tiny-llava', engine, processor, limits: { maxImages: 1 } }, { port: 0 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});
after(async () => {
  await browser?.close();
  await server?.close();
  engine.close();
  temp.remove();
});

async function greedy(messages: ChatMessage[], images: string[], maxNewTokens: number): Promise<string> {
  const inputs = await processor.process({ messages, images });
  const L = inputs.inputIds.size(1);
  const seq = await model.generate({ ...inputs, maxNewTokens });
  let tokens = ids(seq.narrow(1, L, seq.size(1) - L));
  if (tokens.includes(2)) tokens = tokens.slice(0, tokens.indexOf(2) + 1);
  return processor.tokenizer.decode(tokens, { skipSpecialTokens: true });
}

test('upload an image, ask, see the answer stream in; ask again; start over', async () => {
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => document.getElementById('model')!.textContent === 'tiny-llava');
  await page.setInputFiles('#file', imagePath);
  await page.waitForSelector('#preview', { state: 'visible' });
  await page.fill('#temperature', '0');
  await page.fill('#max-tokens', '12');
  // Count the changes of the answer's text while it arrives: mutation records, not observer callbacks, which the
  // browser batches when several streamed pieces arrive in one network read.
  await page.evaluate(() => {
    const w = window as unknown as { textChanges: number };
    w.textChanges = 0;
    new MutationObserver((records) => (w.textChanges += records.length)).observe(document.getElementById('log')!, {
      subtree: true,
      childList: true,
      characterData: true,
    });
  });
  await page.fill('#question', 'What is in this image?');
  await page.click('#send');
  await page.waitForSelector('.assistant[data-state="done"]');
  const first = await page.textContent('.assistant');
  const question: ChatMessage[] = [
    { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is in this image?' }] },
  ];
  assert.equal(first, await greedy(question, [imagePath], 12));
  const changes = await page.evaluate(() => (window as unknown as { textChanges: number }).textChanges);
  // The user turn, the empty answer, then one change per streamed piece (more than one piece).
  assert.ok(changes >= 4, `${changes} changes`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'web-chat.png'), fullPage: true });
  assert.ok(readFileSync(join(ARTIFACTS, 'web-chat.png')).subarray(1, 4).toString() === 'PNG');

  await page.fill('#question', 'Tell me more');
  await page.click('#send');
  await page.waitForFunction(() => document.querySelectorAll('.assistant[data-state="done"]').length === 2);
  const second = (await page.$$eval('.assistant', (els) => els.map((e) => e.textContent)))[1];
  const followUp: ChatMessage[] = [
    ...question,
    { role: 'assistant', content: first! },
    { role: 'user', content: 'Tell me more' },
  ];
  assert.equal(second, await greedy(followUp, [imagePath], 12));

  await page.click('#reset');
  assert.equal(await page.$$eval('.turn', (els) => els.length), 0);
  assert.equal(await page.isVisible('#preview'), false);
  await page.close();
});

test('dropping or pasting an image sets it', async () => {
  const page = await browser.newPage();
  await page.goto(server.url);
  const base64 = readFileSync(imagePath).toString('base64');
  for (const how of ['drop', 'paste'] as const) {
    await page.evaluate(
      ({ how, base64 }) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], 'picture.png', { type: 'image/png' }));
        if (how === 'drop')
          document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: data }));
        else document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data }));
      },
      { how, base64 },
    );
    await page.waitForFunction(
      (b64) => (document.getElementById('preview') as HTMLImageElement).src === `data:image/png;base64,${b64}`,
      base64,
    );
    await page.click('#reset');
  }
  await page.close();
});
