// `llava serve` as a child process of the built CLI, for the tests that talk to it over HTTP as a user would.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export type ServeProcess = {
  /** http://host:port, as the server printed it. */
  url: string;
  /** What the server wrote to stderr so far. */
  stderr: () => string;
  /** Sends SIGINT (the user's Ctrl-C) and resolves with the exit code. */
  stop: () => Promise<number | null>;
};

/** Starts `llava serve <args>` and resolves once it prints the address it listens at; rejects if it exits first. */
export async function startServe(args: string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+) /.exec(out);
      if (m) resolve(m[1]!);
    });
    void closed.then(() => reject(new Error(`serve exited: ${stderr}`)));
  });
  return {
    url,
    stderr: () => stderr,
    stop: () => {
      child.kill('SIGINT');
      return closed;
    },
  };
}
