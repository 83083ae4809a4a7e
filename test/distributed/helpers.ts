// Runs the ranks of rank.ts through launch() in a temporary folder and reads what each wrote.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, type RankExit } from '../../src/distributed/index.js';

export const rankScript = join(dirname(fileURLToPath(import.meta.url)), 'rank.js');
export type RankReport = { result?: unknown; error?: string };

/** Launches `scenario` on `world` ranks; every rank's report (undefined if it wrote none) and the launch's end. */
export async function runRanks(
  scenario: string,
  world: number,
  extraEnv: Record<string, string> = {},
  use?: (dir: string) => void | Promise<void>,
): Promise<{ reports: (RankReport | undefined)[]; exits?: RankExit[]; launchError?: Error }> {
  const dir = mkdtempSync(join(tmpdir(), 'llava-dist-'));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, LLAVA_TEST_OUT: dir, OMP_NUM_THREADS: '1' };
    delete env.NODE_TEST_CONTEXT; // the ranks are plain scripts, not test files
    let exits: RankExit[] | undefined;
    let launchError: Error | undefined;
    try {
      exits = await launch({
        script: rankScript,
        args: [scenario],
        nprocPerNode: world,
        env,
        failureTimeoutMs: 20_000,
      });
    } catch (err) {
      launchError = err as Error;
    }
    const reports = Array.from({ length: world }, (_, r) => {
      const file = join(dir, `rank${r}.json`);
      return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RankReport) : undefined;
    });
    await use?.(dir);
    return { reports, exits, launchError };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
