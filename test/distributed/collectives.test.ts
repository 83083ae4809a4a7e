// c10d's Gloo collectives across 2 and 3 processes on loopback, each rank with its own inputs
// (rank.ts: collectives), against values worked out by hand below; and the rendezvous timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessGroup, freePort } from '../../src/distributed/index.js';
import { runRanks } from './helpers.js';

// Rank r contributes sum/avg [r+1, 10(r+1)], max [r, -r], broadcast [100+r, 200+r, 300+r] from
// the last rank, allGather [r, 10r], reduceScatter chunk q = [100r + 2q, 100r + 2q + 1].
const expected = {
  2: {
    sum: [3, 30],
    avg: [1.5, 15],
    max: [1, 0],
    broadcast: [101, 201, 301],
    gathered: [
      [0, 0],
      [1, 10],
    ],
    scattered: [
      [100, 102], // rank 0: [0 + 100, 1 + 101]
      [104, 106], // rank 1: [2 + 102, 3 + 103]
    ],
    scatteredAvg: [
      [50, 51],
      [52, 53],
    ],
  },
  3: {
    sum: [6, 60],
    avg: [2, 20],
    max: [2, 0],
    broadcast: [102, 202, 302],
    gathered: [
      [0, 0],
      [1, 10],
      [2, 20],
    ],
    scattered: [
      [300, 303], // rank 0: [0 + 100 + 200, 1 + 101 + 201]
      [306, 309],
      [312, 315],
    ],
    scatteredAvg: [
      [100, 101],
      [102, 103],
      [104, 105],
    ],
  },
} as const;

for (const world of [2, 3] as const) {
  test(`allReduce (sum, avg, max), broadcast, allGather, reduceScatter (sum, avg), barrier over ${world} processes`, async () => {
    const { reports, launchError } = await runRanks('collectives', world);
    assert.equal(launchError, undefined, String(launchError?.message) + JSON.stringify(reports));
    const e = expected[world];
    reports.forEach((report, rank) => {
      assert.equal(report?.error, undefined);
      assert.deepEqual(report!.result, {
        sum: e.sum,
        avg: e.avg,
        max: e.max,
        broadcast: e.broadcast,
        gathered: e.gathered,
        scattered: e.scattered[rank],
        scatteredAvg: e.scatteredAvg[rank],
      });
    });
  });
}

test('a rendezvous that never completes times out with a message naming the address, rank and world', async () => {
  const port = await freePort();
  // Rank 0 serves the store and waits for a second rank that never comes.
  await assert.rejects(
    ProcessGroup.init(
      { masterAddr: '127.0.0.1', masterPort: port, rank: 0, worldSize: 2, localRank: 0 },
      { timeoutMs: 1000 },
    ),
    new RegExp(
      `^Error: c10dInit: rendezvous of 2 ranks at 127\\.0\\.0\\.1:${port} \\(this is rank 0\\) did not complete within 1000 ms: Socket Timeout$`,
    ),
  );
  // Rank 1 finds no store to join.
  await assert.rejects(
    ProcessGroup.init(
      { masterAddr: '127.0.0.1', masterPort: port, rank: 1, worldSize: 2, localRank: 1 },
      { timeoutMs: 1000 },
    ),
    new RegExp(
      `^Error: c10dInit: rendezvous of 2 ranks at 127\\.0\\.0\\.1:${port} \\(this is rank 1\\) did not complete within 1000 ms: The client socket has timed out after 1s while trying to connect to \\(127\\.0\\.0\\.1, ${port}\\)\\.$`,
    ),
  );
});

test('a collective that a live rank never joins fails after its timeout, naming the collective and the limit', async () => {
  const { reports, launchError } = await runRanks('collectiveTimeout', 2);
  assert.equal(launchError, undefined);
  assert.equal(reports[0]!.result, 'allReduce failed on rank 0: c10dAllReduce: did not complete within 1000 ms');
  assert.equal(reports[1]!.result, 'stayed away');
});
