// Two "hosts": two network namespaces joined by a veth pair, one rank in each, rank 0's store and
// Gloo on 10.213.0.1 and rank 1 on 10.213.0.2 (GLOO_SOCKET_IFNAME naming each side's veth). The
// collectives give the hand-computed values of collectives.test.ts, and the veth counters show
// the traffic crossed it. Needs root (CI runs as root); skipped, saying why, where namespaces
// cannot be made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rankScript, type RankReport } from './helpers.js';

const id = process.pid % 100000;
const hosts = [
  { ns: `llava-dist-${id}-a`, dev: `lva${id}`, addr: '10.213.0.1' },
  { ns: `llava-dist-${id}-b`, dev: `lvb${id}`, addr: '10.213.0.2' },
];
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const inNs = (ns: string, ...args: string[]) => ip('netns', 'exec', ns, ...args);

/** Makes the two namespaces and the veth between them; the reason when it cannot. */
function makeHosts(): string | undefined {
  try {
    for (const h of hosts) ip('netns', 'add', h.ns);
    ip('link', 'add', hosts[0]!.dev, 'type', 'veth', 'peer', 'name', hosts[1]!.dev);
    for (const h of hosts) {
      ip('link', 'set', h.dev, 'netns', h.ns);
      inNs(h.ns, 'ip', 'addr', 'add', `${h.addr}/24`, 'dev', h.dev);
      inNs(h.ns, 'ip', 'link', 'set', h.dev, 'up');
      inNs(h.ns, 'ip', 'link', 'set', 'lo', 'up');
    }
    return undefined;
  } catch (err) {
    removeHosts();
    return `network namespaces cannot be made here (${(err as { stderr?: string }).stderr?.trim() || (err as Error).message})`;
  }
}

function removeHosts(): void {
  for (const h of hosts) {
    try {
      ip('netns', 'del', h.ns); // takes its end of the veth pair with it
    } catch {
      // not made
    }
  }
}

const bytes = (h: (typeof hosts)[number], dir: 'tx' | 'rx') =>
  Number(inNs(h.ns, 'cat', `/sys/class/net/${h.dev}/statistics/${dir}_bytes`).trim());

test('two ranks in two network namespaces over a veth pair: rendezvous and collectives cross it', async (t) => {
  const reason = makeHosts();
  if (reason) {
    console.log(`two-hosts test skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'llava-dist-ns-'));
  try {
    const before = bytes(hosts[0]!, 'tx');
    const exits = await Promise.all(
      hosts.map((h, rank) => {
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          MASTER_ADDR: hosts[0]!.addr,
          MASTER_PORT: '29511',
          RANK: String(rank),
          WORLD_SIZE: '2',
          LOCAL_RANK: '0',
          GLOO_SOCKET_IFNAME: h.dev,
          LLAVA_TEST_OUT: out,
          OMP_NUM_THREADS: '1',
        };
        delete env.NODE_TEST_CONTEXT;
        const child = spawn('ip', ['netns', 'exec', h.ns, process.execPath, rankScript, 'collectives'], {
          env,
          stdio: 'inherit',
        });
        return new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      }),
    );
    assert.deepEqual(exits, [0, 0]);
    const reports = [0, 1].map((r) => JSON.parse(readFileSync(join(out, `rank${r}.json`), 'utf8')) as RankReport);
    // world 2, by hand as in collectives.test.ts
    const common = {
      sum: [3, 30],
      avg: [1.5, 15],
      max: [1, 0],
      broadcast: [101, 201, 301],
      gathered: [
        [0, 0],
        [1, 10],
      ],
    };
    assert.deepEqual(reports[0]!.result, { ...common, scattered: [100, 102], scatteredAvg: [50, 51] });
    assert.deepEqual(reports[1]!.result, { ...common, scattered: [104, 106], scatteredAvg: [52, 53] });
    // The store's and Gloo's packets went over the veth (the rendezvous alone is over a kilobyte).
    assert.ok(bytes(hosts[0]!, 'tx') - before > 1000);
    assert.ok(bytes(hosts[1]!, 'rx') > 1000);
  } finally {
    rmSync(out, { recursive: true, force: true });
    removeHosts();
  }
});
