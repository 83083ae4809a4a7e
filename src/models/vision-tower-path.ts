// Where the CLIP folder that an original LLaVA checkpoint names in mm_vision_tower lives: as
// given, beside the checkpoint, or in the Hugging Face cache (HF_HUB_CACHE, HF_HOME).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

export function findVisionTower(dir: string, name: string, explicit: string | undefined): string {
  const candidates = explicit
    ? [explicit]
    : [
        name,
        join(dir, name),
        join(dirname(resolve(dir)), name),
        join(dirname(resolve(dir)), basename(name)),
        ...hfCacheSnapshots(name),
      ];
  const found = candidates.find((c) => c && existsSync(join(c, 'config.json')));
  if (!found) {
    throw new Error(
      `${dir}: the vision tower '${name}' (mm_vision_tower) was not found; looked in:\n  ${candidates.filter(Boolean).join('\n  ')}\n  pass visionTower: '<folder of the CLIP checkpoint>'`,
    );
  }
  return found;
}

function hfCacheSnapshots(name: string): string[] {
  if (!name.includes('/')) return [];
  const hub = process.env.HF_HUB_CACHE ?? join(process.env.HF_HOME ?? join(homedir(), '.cache', 'huggingface'), 'hub');
  const snapshots = join(hub, `models--${name.replace('/', '--')}`, 'snapshots');
  return existsSync(snapshots)
    ? readdirSync(snapshots)
        .map((s) => join(snapshots, s))
        .filter((p) => statSync(p).isDirectory())
    : [];
}
