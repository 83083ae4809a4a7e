// Scratch folders of the datagen tests: every one made through here is removed when the test file
// ends (with what child processes, killed ones included, wrote into it).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const made: string[] = [];
after(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));

export async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `datagen-${name}-`));
  made.push(dir);
  return dir;
}
