// The evaluation library entry and the judge/scorer commands load no native code (neither
// libtorch's addon nor sharp's): they run on machines without either. `answers` loads them.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';

function nativeLoads(modules: string[]): string[] {
  const script = `
    const loaded = [];
    const dlopen = process.dlopen;
    process.dlopen = (m, file, ...rest) => (loaded.push(file), dlopen(m, file, ...rest));
    for (const m of ${JSON.stringify(modules.map((m) => resolve(m)))}) await import(m);
    console.log(JSON.stringify(loaded));`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return JSON.parse(out.stdout) as string[];
}

test('llava-ts/eval and the judge and scorer commands load no native addon', () => {
  const light = ['index', 'judge', 'summarize', 'sqa', 'pope', 'vqa', 'mme'].map((m) =>
    m === 'index' ? 'dist/src/eval/index.js' : `dist/src/cli/eval/${m}.js`,
  );
  assert.deepEqual(nativeLoads([...light, 'dist/src/cli/eval.js']), []);
  // The check sees native loads: the answers module does load one.
  assert.ok(nativeLoads(['dist/src/eval/answers.js']).length > 0);
});
