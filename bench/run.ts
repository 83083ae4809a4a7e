// `npm run bench`: each benchmark in its own process (so one's memory and threads do not
// disturb the next), one after another, output passed through.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const benches = [
  'engine',
  'models',
  'decode',
  'llama_cpp',
  'train',
  'serve',
  'serve_load',
  'distributed',
  'data',
  'datagen',
  'safetensors_io',
  'torch_bin_io',
];
const only = process.argv.slice(2);
let failed = 0;
for (const name of benches.filter((b) => only.length === 0 || only.includes(b))) {
  const file = join(here, `${name}.js`);
  if (!existsSync(file)) continue;
  console.log(`\n=== bench: ${name}`);
  const r = spawnSync(process.execPath, ['--expose-gc', file], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`bench ${name} failed (exit ${r.status})`);
    failed++;
  }
}
process.exitCode = failed ? 1 : 0;
