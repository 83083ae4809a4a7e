import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  buildMessages,
  DEFAULT_PROMPTS_DIR,
  loadPromptSet,
  parseReply,
  PROMPT_TYPES,
  readCapsBoxesJsonl,
  renderContext,
  type ImageContext,
} from '../../src/datagen/index.js';
import { CAPS_BOXES_80, REFERENCE_PROMPTS } from './paths.js';
import { tempDir } from './tmp.js';

/**
 * The query context of one JSONL line, built from the line's raw text: the reference wrote the
 * file with Python's json.dumps, whose floats are Python reprs, the same text the caps format
 * prints. Conversation shows captions only; an image without boxes shows captions only.
 */
function expectedContext(rawLine: string, withBoxes: boolean): string {
  const captions = (JSON.parse(rawLine) as { captions: string[] }).captions.join('\n');
  const boxes = [...rawLine.matchAll(/\{"category": "([^"]+)", "bbox": \[([^\]]+)\]\}/g)].map(
    (m) => `${m[1]}: [${m[2]}]`,
  );
  return withBoxes && boxes.length > 0 ? `${captions}\n\n${boxes.join('\n')}` : captions;
}

test('reference prompt folders + the 80 caps/boxes records give the exact request messages', async () => {
  const rawLines = (await readFile(CAPS_BOXES_80, 'utf8')).split('\n').filter((l) => l !== '');
  const contexts = await readCapsBoxesJsonl(CAPS_BOXES_80);
  assert.equal(rawLines.length, 80);
  for (const type of PROMPT_TYPES) {
    const dir = join(REFERENCE_PROMPTS, type);
    const names = (await readdir(dir)).sort();
    const shots = names.filter((n) => n.endsWith('_caps.txt')).map((n) => n.slice(0, 3));
    assert.equal(shots.length, type === 'conversation' ? 2 : 3);
    const prefix = [{ role: 'system', content: await readFile(join(dir, 'system_message.txt'), 'utf8') }];
    for (const shot of shots) {
      prefix.push({ role: 'user', content: await readFile(join(dir, `${shot}_caps.txt`), 'utf8') });
      prefix.push({ role: 'assistant', content: await readFile(join(dir, `${shot}_conv.txt`), 'utf8') });
    }
    const prompts = await loadPromptSet(REFERENCE_PROMPTS, type);
    rawLines.forEach((line, i) => {
      const expected = [...prefix, { role: 'user', content: expectedContext(line, type !== 'conversation') }];
      assert.deepEqual(buildMessages(prompts, contexts[i]!), expected, `${type}, record ${i + 1}`);
    });
  }
});

test('the shipped default prompts load in the reference layout, and their examples follow the formats they teach', async () => {
  for (const type of PROMPT_TYPES) {
    const prompts = await loadPromptSet(DEFAULT_PROMPTS_DIR, type);
    assert.ok(prompts.system.length > 200, `${type} system message`);
    assert.ok(prompts.examples.length >= 2, `${type} has few-shot examples`);
    for (const [i, { caps, conv }] of prompts.examples.entries()) {
      const parsed = parseReply(type, conv, 'instruction');
      assert.ok(parsed.ok, `${type} example ${i}: ${JSON.stringify(parsed)}`);
      if (type === 'complex_reasoning') assert.equal(parsed.turns.length, 1);
      if (type === 'conversation') assert.ok(parsed.turns.length >= 3);
      // Each caps example is in the exact shape renderContext gives a query.
      const [captions, boxes] = caps.split('\n\n') as [string, string | undefined];
      assert.equal(
        boxes === undefined,
        type === 'conversation',
        `${type} example ${i}: boxes only for box-aware types`,
      );
      const context: ImageContext = {
        id: 'x',
        image: 'x.jpg',
        captions: captions.split('\n'),
        instances: (boxes ?? '')
          .split('\n')
          .filter((l) => l)
          .map((l) => {
            const m = /^([a-z ]+): \[(.+)\]$/.exec(l);
            assert.ok(m, `${type} example ${i}: box line ${JSON.stringify(l)}`);
            const bbox = m[2]!.split(', ').map(Number) as [number, number, number, number];
            assert.ok(
              bbox.every((v) => v >= 0 && v <= 1) && bbox[0] < bbox[2] && bbox[1] < bbox[3],
              `${type} example ${i}: box ${l}`,
            );
            return { category: m[1]!, bbox };
          }),
      };
      assert.equal(renderContext(context, type !== 'conversation'), caps, `${type} example ${i} caps format`);
      assert.equal(context.captions.length, 5, `${type} example ${i} has five captions`);
    }
  }
});

test('prompt folders with a missing part are refused with the path', async () => {
  const root = await tempDir('prompts');
  await assert.rejects(loadPromptSet(root, 'conversation'), /prompts: cannot read folder .*conversation \(ENOENT\)/);
  await mkdir(join(root, 'conversation'));
  await writeFile(join(root, 'conversation', '000_caps.txt'), 'a');
  await assert.rejects(loadPromptSet(root, 'conversation'), /has no system_message\.txt/);
  await writeFile(join(root, 'conversation', 'system_message.txt'), 's');
  await assert.rejects(loadPromptSet(root, 'conversation'), /has 000_caps\.txt without its 000_conv\.txt/);
  await writeFile(join(root, 'conversation', '000_conv.txt'), 'b');
  await writeFile(join(root, 'conversation', '010_conv.txt'), 'd');
  await writeFile(join(root, 'conversation', '010_caps.txt'), 'c');
  await writeFile(join(root, 'conversation', '002_caps.txt'), 'e');
  await writeFile(join(root, 'conversation', '002_conv.txt'), 'f');
  const prompts = await loadPromptSet(root, 'conversation');
  assert.deepEqual(prompts.examples, [
    { caps: 'a', conv: 'b' },
    { caps: 'e', conv: 'f' },
    { caps: 'c', conv: 'd' },
  ]);
});
