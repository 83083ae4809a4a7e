// Starts the local ranks of a distributed run, as torchrun does: one Node process per rank with
// MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE set. When a rank fails,
// the others get failureTimeoutMs to stop on their own (their collectives fail and name it), then
// are killed; the launch rejects naming the first rank that failed.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createServer } from 'node:net';

export type LaunchOptions = {
  /** The script every rank runs (with process.execPath) and its arguments. */
  script: string;
  args?: string[];
  /** Ranks on this node. */
  nprocPerNode: number;
  /** Nodes in the run, and this one's index (torchrun's --nnodes, --node-rank). */
  nnodes?: number;
  nodeRank?: number;
  /** Rank 0's host and TCPStore port; default 127.0.0.1 and a free port (single node only). */
  masterAddr?: string;
  masterPort?: number;
  /** The ranks' environment, before the rendezvous variables are set on it. */
  env?: NodeJS.ProcessEnv;
  /** How long the other ranks may take to stop after one failed; then they are killed. */
  failureTimeoutMs?: number;
  stdio?: StdioOptions;
};

export type RankExit = { rank: number; code: number | null; signal: NodeJS.Signals | null };

/** A launch whose ranks did not all exit 0: names the first that failed, then every rank's end. */
export class RankExitError extends Error {
  /** `exits` in the order the ranks ended. */
  constructor(readonly exits: RankExit[]) {
    const first = exits.find((e) => e.code !== 0)!;
    super(`distributed launch: rank ${first.rank} ${describe(first)}; ${summary(exits)}`);
    this.name = 'RankExitError';
  }
}

const describe = (e: RankExit): string => (e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`);
const summary = (exits: RankExit[]): string =>
  [...exits]
    .sort((a, b) => a.rank - b.rank)
    .map((e) => `rank ${e.rank} ${e.code === 0 ? 'finished' : describe(e)}`)
    .join(', ');

/** A TCP port that was free on host a moment ago (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs the node's ranks to the end: resolves when all exit 0, else rejects with RankExitError. */
export async function launch(o: LaunchOptions): Promise<RankExit[]> {
  const nnodes = o.nnodes ?? 1;
  const nodeRank = o.nodeRank ?? 0;
  if (!Number.isInteger(o.nprocPerNode) || o.nprocPerNode < 1)
    throw new Error(`distributed launch: nprocPerNode must be a positive integer, got ${o.nprocPerNode}`);
  if (!Number.isInteger(nnodes) || nnodes < 1 || !Number.isInteger(nodeRank) || nodeRank < 0 || nodeRank >= nnodes)
    throw new Error(`distributed launch: nodeRank ${nodeRank} is not a node of nnodes ${nnodes}`);
  if (nnodes > 1 && (o.masterAddr === undefined || o.masterPort === undefined))
    throw new Error(
      'distributed launch: a run over several nodes needs masterAddr and masterPort, the same on every node',
    );
  const masterAddr = o.masterAddr ?? '127.0.0.1';
  const masterPort = o.masterPort ?? (await freePort(masterAddr));
  const failureTimeoutMs = o.failureTimeoutMs ?? 60_000;
  const children: ChildProcess[] = [];
  const exits = await new Promise<RankExit[]>((resolve) => {
    const done: RankExit[] = [];
    let killTimer: NodeJS.Timeout | undefined;
    for (let local = 0; local < o.nprocPerNode; local++) {
      const rank = nodeRank * o.nprocPerNode + local;
      const env = {
        ...(o.env ?? process.env),
        MASTER_ADDR: masterAddr,
        MASTER_PORT: String(masterPort),
        RANK: String(rank),
        WORLD_SIZE: String(nnodes * o.nprocPerNode),
        LOCAL_RANK: String(local),
        LOCAL_WORLD_SIZE: String(o.nprocPerNode),
      };
      const child = spawn(process.execPath, [o.script, ...(o.args ?? [])], { env, stdio: o.stdio ?? 'inherit' });
      children.push(child);
      child.on('exit', (code, signal) => {
        done.push({ rank, code: signal ? null : code, signal });
        const failed = code !== 0 || signal !== null;
        if (failed && killTimer === undefined)
          killTimer = setTimeout(() => {
            for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
          }, failureTimeoutMs);
        if (done.length === o.nprocPerNode) {
          clearTimeout(killTimer);
          resolve(done);
        }
      });
    }
  });
  if (exits.some((e) => e.code !== 0)) throw new RankExitError(exits);
  return exits.sort((a, b) => a.rank - b.rank);
}
