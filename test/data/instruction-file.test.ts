// Instruction files: streamed JSON arrays and JSON lines, records re-read by offset, and every malformed or
// inconsistent record an error naming where it is, or a counted skip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecords } from '../../src/data/json-records.js';
import { InstructionFile, indexInstructionFile } from '../../src/data/instruction-index.js';
import { modalityLength, parseSample } from '../../src/data/sample.js';
import { tempDir } from '../helpers/text-images.js';

const dir = tempDir('llava-data-');
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const samples = [
  {
    id: '000000033471',
    image: 'a.jpg',
    conversations: [
      { from: 'human', value: '<image>\nWhat is "this" [x], {y}?' },
      { from: 'gpt', value: 'A \\ backslash, ünïcödé 🐱.' },
    ],
  },
  {
    id: 7,
    conversations: [
      { from: 'human', value: 'Text only,' },
      { from: 'gpt', value: 'yes ] } ,' },
    ],
  },
];

test('a JSON array is streamed record by record, across chunk boundaries, and records re-read by offset', async () => {
  const path = write(
    'data.json',
    '\ufeff[\n  ' + samples.map((s) => JSON.stringify(s, null, 1)).join(' ,\n ') + '\n]\n',
  );
  for (const chunkSize of [3, 7, 1 << 20]) {
    const records = [];
    for await (const r of readRecords(path, chunkSize)) records.push(r);
    assert.deepEqual(
      records.map((r) => JSON.parse(r.bytes.toString('utf8'))),
      samples,
      `chunk ${chunkSize}`,
    );
    assert.deepEqual(
      records.map((r) => [r.format, r.line, r.ordinal]),
      [
        ['json', 2, 0],
        ['json', 16, 1],
      ],
    );
  }
  const index = await indexInstructionFile(path);
  const file = new InstructionFile(index);
  assert.equal(file.size, 2);
  assert.deepEqual(file.get(1), { id: '7', conversations: samples[1]!.conversations });
  assert.deepEqual(file.get(0), samples[0]);
  assert.throws(() => file.get(2), /sample index 2 is outside 0\.\.1/);
  file.close();
  assert.deepEqual(Array.from(index.modalityLengths), [11, -6]); // 6 + 5 words with the image, 2 + 4 without
});

test('JSON lines, with blank lines; a malformed line is an error, or skipped and reported', async () => {
  const good = samples.map((s) => JSON.stringify(s));
  const path = write('data.jsonl', [good[0], '', '{"id": "broken", "conversations": [', good[1], ''].join('\n'));
  await assert.rejects(indexInstructionFile(path), new RegExp(`data\\.jsonl:3 \\(record 1\\): malformed JSON`));
  const index = await indexInstructionFile(path, { onBadRecord: 'skip' });
  assert.equal(index.offsets.length, 2);
  assert.deepEqual(
    index.skipped.map((s) => s.where),
    [`${path}:3 (record 1)`],
  );
  assert.match(index.skipped[0]!.reason, /malformed JSON/);
  assert.deepEqual(new InstructionFile(index).get(1).id, '7');
});

test('files that are not instruction data, truncated arrays and trailing junk are clear errors', async () => {
  const drain = async (path: string) => {
    for await (const _ of readRecords(path)) {
      /* consume */
    }
  };
  await assert.rejects(drain(write('empty.json', '  \n')), /the file is empty/);
  await assert.rejects(drain(write('csv.json', 'id,image\n')), /not LLaVA instruction data: expected a JSON array/);
  await assert.rejects(
    drain(write('cut.json', `[${JSON.stringify(samples[0])}, {"id": "x", "conv`)),
    /JSON array is not closed \(truncated file\?\)/,
  );
  await assert.rejects(
    drain(write('junk.json', `[${JSON.stringify(samples[1])}] extra`)),
    /unexpected data after the closing '\]'/,
  );
});

test('bad samples: each mismatch of images and <image> tags, and each malformed field, is named', () => {
  const turns = (first: string) => [
    { from: 'human', value: first },
    { from: 'gpt', value: 'ok' },
  ];
  const cases: [unknown, RegExp][] = [
    [{ id: 'a', image: 'x.jpg', conversations: turns('no tag') }, /has an "image" but no <image> tag/],
    [{ id: 'b', conversations: turns('<image>\nQ') }, /has 1 <image> tag\(s\) but no "image"/],
    [{ id: 'c', image: 'x.jpg', conversations: turns('<image> <image>\nQ') }, /has 2 <image> tags for 1 image/],
    [{ id: 'd', image: ['x.jpg', 'y.jpg'], conversations: turns('<image>') }, /"image" is a list/],
    [{ id: 'e', image: '', conversations: turns('<image>') }, /"image" must be a non-empty path/],
    [{ id: 'f', conversations: [] }, /"conversations" must be a non-empty list/],
    [{ id: 'g', conversations: [{ from: 'system', value: 'x' }] }, /conversations\[0\]\.from is 'system'/],
    [{ id: 'h', conversations: [{ from: 'human' }] }, /conversations\[0\] must be \{"from": string, "value": string\}/],
    [['not', 'an', 'object'], /a sample must be a JSON object/],
    [{ id: { nested: true }, conversations: turns('q') }, /"id" must be a string or number/],
  ];
  for (const [value, pattern] of cases)
    assert.throws(
      () => parseSample(value, 'data.json:9'),
      (err: Error) => err.message.startsWith('data.json:9: ') && pattern.test(err.message),
      JSON.stringify(value),
    );
});

test('modality length: words of all turns, + with an image, - without', () => {
  assert.equal(
    modalityLength({
      id: '',
      image: 'a',
      conversations: [
        { from: 'human', value: '<image>\nTwo words' },
        { from: 'gpt', value: ' a  b\tc ' },
      ],
    }),
    6,
  );
  assert.equal(
    modalityLength({
      id: '',
      conversations: [
        { from: 'human', value: 'hi' },
        { from: 'gpt', value: '' },
      ],
    }),
    -1,
  );
});
