// `<dir>/.lock` holds the pid of the run writing in a folder (the output folder, the response
// cache): two live runs appending to one file would interleave and double-count.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<dir>/.lock` and returns a release function; a lock left by a process that is gone (kill -9) is taken over. */
export function lockFolder(dir: string): () => void {
  const path = join(dir, '.lock');
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(readFileSync(path, 'utf8'));
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new Error(
        `${dir} is being written by another run (pid ${holder}); wait for it, or stop it, before running here`,
      );
    }
    rmSync(path, { force: true });
  }
}
