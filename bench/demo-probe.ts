// The vision-feature probe behind the README's account of llava demo (bench/demo_probe.py): writes the demo's world
// (the train and held-out scenes of src/demo/config.ts, rendered) as raw bytes and JSON into a temporary folder,
// runs the probe on each feature spec, prints its lines and removes the folder.
//   node dist/bench/demo-probe.js raw runs/demo/stage0/clip runs/demo/stage0/clip:-2:untrained
// A spec is `raw` or <CLIP folder>[:layer[:untrained]] (layer -2 by default, as the demo's vision tower reads).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORLD } from '../src/demo/config.js';
import { makeWorld, renderScene } from '../src/demo/world.js';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');
const specs = process.argv.slice(2);
if (specs.length === 0) throw new Error('demo-probe: give feature specs: raw | <clip folder>[:layer[:untrained]]');

const dump = mkdtempSync(join(tmpdir(), 'llava-demo-probe-'));
try {
  const world = makeWorld({ seed: WORLD.seed, trainImages: WORLD.trainImages, heldOutImages: WORLD.heldOutImages });
  for (const [name, scenes] of [
    ['train', world.train],
    ['heldout', world.heldOut],
  ] as const) {
    writeFileSync(join(dump, `${name}.u8`), Buffer.concat(scenes.map((s) => renderScene(s)))); // [N, 64, 64, 3]
    writeFileSync(join(dump, `${name}.json`), JSON.stringify(scenes));
  }
  execFileSync('/usr/bin/python3', [join(benchDir, 'demo_probe.py'), dump, ...specs], { stdio: 'inherit' });
} finally {
  rmSync(dump, { recursive: true, force: true });
}
