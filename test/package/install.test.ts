// The package as a user gets it: `npm pack` of this tree, installed from the tarball into a new project (its install
// step builds the addon there), imported by name from a script run in yet another directory, gives transformers'
// logits for the golden llama_tiny. Its build step names what it lacks (g++, libtorch) and exits non-zero.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { golden, goldenRoot } from '../helpers/golden.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'llava-package-'));
after(() => rmSync(work, { recursive: true, force: true }));

// The outer npm's settings (npm_config_*, when the suite runs under `npm test`) must not steer the inner npm.
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE_TEST_CONTEXT'),
);

function run(cmd: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, ...options });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status} (${r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout as string;
}

// What a user's project runs: import by name, load the checkpoint, forward, hand the logits back as raw float32.
const consumer = `
import { LlamaForCausalLM, openSafetensors, noGrad } from 'llava-ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
const [dir, out] = process.argv.slice(2);
const fixtures = openSafetensors(join(dir, 'fixtures.safetensors'));
const model = LlamaForCausalLM.fromPretrained(dir);
const inputIds = fixtures.readTensor('input_ids');
const attentionMask = fixtures.readTensor('attention_mask');
const { logits } = noGrad(() => model.forward({ inputIds, attentionMask }));
writeFileSync(out, logits.toTypedArray());
const addons = process.report.getReport().sharedObjects.filter((p) => p.endsWith('llava_torch.node'));
console.log(JSON.stringify({ shape: logits.shape, addons }));
`;

test(
  'npm pack, install the tarball into a new project, import it there and match the golden logits',
  { timeout: 900_000 },
  () => {
    // dist/src is the compiled tree this test itself runs from; --ignore-scripts keeps prepack from rebuilding it now.
    const [packed] = JSON.parse(
      run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: repoRoot }),
    ) as { filename: string; files: { path: string }[] }[];
    const files = packed!.files.map((f) => f.path);
    for (const want of [
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'native/build.mjs',
      'native/addon.cc',
      'package.json',
    ])
      assert.ok(files.includes(want), `the tarball holds ${want}`);
    assert.ok(
      files.some((f) => f.startsWith('src/datagen/prompts/')),
      'the datagen prompts ship',
    );
    for (const f of files)
      assert.ok(
        !/^(dist\/(test|bench)|build|test|bench|src\/(?!datagen\/prompts\/))/.test(f) && !f.endsWith('.map'),
        f,
      );

    const project = join(work, 'project');
    mkdirSync(project);
    // allowScripts: npm 11 lists a dependency's install script for review, and a later npm runs only allowed ones.
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module', allowScripts: { 'llava-ts': true } }),
    );
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed!.filename)], {
      cwd: project,
    });
    const addon = join(project, 'node_modules', 'llava-ts', 'build', 'llava_torch.node');
    assert.ok(existsSync(addon), 'the install step built the addon inside the installed package');

    writeFileSync(join(project, 'forward.mjs'), consumer);
    const dir = join(goldenRoot, 'llama_tiny');
    const logitsFile = join(work, 'logits.f32');
    // Run from another directory: the package finds its addon from its own location, not the cwd.
    const report = JSON.parse(
      run(process.execPath, [join(project, 'forward.mjs'), dir, logitsFile], { cwd: work }),
    ) as {
      shape: number[];
      addons: string[];
    };
    assert.deepEqual(
      report.addons.map((p) => realpathSync(p)),
      [realpathSync(addon)],
    );

    const { fixture } = golden('llama_tiny');
    const want = fixture('logits');
    assert.deepEqual(report.shape, want.shape);
    const [B, T, V] = want.shape as [number, number, number];
    const expected = want.toTypedArray() as Float32Array;
    const mask = fixture('attention_mask').toTypedArray() as BigInt64Array; // [B, T]; pad positions may differ (meta.json)
    const bytes = readFileSync(logitsFile);
    const got = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    assert.equal(got.length, B * T * V);
    let worst = 0;
    for (let p = 0; p < B * T; p++) {
      if (mask[p] !== 1n) continue;
      for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got[p * V + v]! - expected[p * V + v]!));
    }
    assert.ok(worst <= 1e-5, `max |logits - golden| = ${worst}`);

    // The install step's build names what is missing and fails.
    const build = join(project, 'node_modules', 'llava-ts', 'native', 'build.mjs');
    const failing = (extra: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, [build, '--force'], { encoding: 'utf8', env: { ...env, ...extra } });
    const noCompiler = failing({ PATH: join(work, 'empty-path') });
    assert.equal(noCompiler.status, 1);
    assert.equal(
      noCompiler.stderr.trim(),
      'native build failed: g++ not found on PATH: install a C++17 compiler (Debian: sudo apt-get install g++)',
    );
    const noTorch = failing({ LIBTORCH: join(work, 'no-libtorch') });
    assert.equal(noTorch.status, 1);
    assert.equal(
      noTorch.stderr.trim(),
      `native build failed: LIBTORCH=${join(work, 'no-libtorch')} has no include/ATen/ATen.h: point it at an unpacked libtorch folder`,
    );
    assert.ok(existsSync(addon), 'a failed rebuild leaves the working addon in place');
  },
);
