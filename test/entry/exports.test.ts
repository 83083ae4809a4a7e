// The package's entry points, imported by package name (Node resolves a package's own name through its "exports"):
// the main entry reaches the text, image and data paths, and `llava-ts/text` and `llava-ts/vision` work on a
// machine without libtorch, so they must not map the addon or libtorch into the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const goldenImages = join(repoRoot, '..', 'shared', 'golden', 'clip_preprocess', 'images');

/** Runs an ES module script inside the repository (so `llava-ts` resolves to this package) and parses its JSON. */
function run(script: string): any {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout);
}

const mapsLibtorch = `(await import('node:fs')).readFileSync('/proc/self/maps', 'utf8').includes('libtorch')`;

test('llava-ts/text renders the reference template and masks without loading libtorch', () => {
  const out = run(`
    const text = await import('llava-ts/text');
    const t = text.conversationTemplate('vicuna_v1');
    const prompt = text.generationPrompt(t, [{ role: t.roles[0], content: '<image>\\nWhat is it?' }]);
    console.log(JSON.stringify({ prompt, images: text.countImageTokens(prompt), libtorch: ${mapsLibtorch} }));`);
  assert.equal(
    out.prompt,
    'A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, ' +
      "detailed, and polite answers to the user's questions. USER: <image>\nWhat is it? ASSISTANT:",
  );
  assert.equal(out.images, 1);
  assert.equal(out.libtorch, false);
});

test('llava-ts/vision decodes and preprocesses an image without loading libtorch', () => {
  const out = run(`
    const vision = await import('llava-ts/vision');
    const image = await vision.decodeImageFile(${JSON.stringify(join(goldenImages, 'gradient_640x480.png'))});
    const config = { crop_size: { height: 224, width: 224 }, size: { shortest_edge: 224 } };
    const pixels = new vision.ClipImageProcessor(config).preprocess(image, 'pad');
    console.log(JSON.stringify({ size: [image.width, image.height], shape: pixels.shape, libtorch: ${mapsLibtorch} }));`);
  assert.deepEqual(out.size, [640, 480]);
  assert.deepEqual(out.shape, [3, 224, 224]);
  assert.equal(out.libtorch, false);
});

test('the main entry reaches the text, vision, data and training paths', () => {
  const out = run(`
    const llava = await import('llava-ts');
    const batch = llava.data.collate(
      [{ inputIds: [1, 2, 3], labels: [-100, 2, 3] }, { inputIds: [1, 2], labels: [-100, 2] }],
      { padTokenId: 0, paddingSide: 'right', maxLength: 16 },
    );
    const tensors = llava.data.toTensors(batch);
    console.log(JSON.stringify({
      text: typeof llava.text.preprocess, tokenizer: typeof llava.TextTokenizer,
      vision: typeof llava.vision.ClipImageProcessor, dataset: typeof llava.SupervisedDataset,
      trainer: typeof llava.train.Trainer, recipe: typeof llava.train.loadRecipe,
      ids: tensors.inputIds.shape, pad: Array.from(tensors.inputIds.toTypedArray(), Number),
    }));`);
  assert.deepEqual(
    [out.text, out.tokenizer, out.vision, out.dataset, out.trainer, out.recipe],
    ['function', 'function', 'function', 'function', 'function', 'function'],
  );
  assert.deepEqual(out.ids, [2, 3]);
  assert.deepEqual(out.pad, [1, 2, 3, 1, 2, 0]);
});
