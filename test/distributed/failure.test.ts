// A rank SIGKILLed while another waits in an all-reduce with it: the survivor stops on its own
// (exit code 1, not killed by the launcher after its failureTimeoutMs) with an error naming the
// dead rank, and the launch rejects naming the killed rank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RankExitError } from '../../src/distributed/index.js';
import { runRanks } from './helpers.js';

for (const world of [2, 3]) {
  test(`SIGKILL of rank ${world - 1} mid-collective: the other ${world - 1} exit non-zero naming it`, async () => {
    const { reports, launchError } = await runRanks('dieMidCollective', world);
    assert.ok(launchError instanceof RankExitError, String(launchError));
    const dead = world - 1;
    const exits = [...launchError.exits].sort((a, b) => a.rank - b.rank);
    assert.deepEqual(exits[dead], { rank: dead, code: null, signal: 'SIGKILL' });
    assert.match(launchError.message, new RegExp(`^distributed launch: rank ${dead} was killed by SIGKILL; `));
    for (let r = 0; r < dead; r++) {
      assert.deepEqual(exits[r], { rank: r, code: 1, signal: null }, `rank ${r} stopped by itself`);
      assert.match(
        reports[r]!.error!,
        new RegExp(`^allReduce failed on rank ${r}: rank ${dead} is gone, its heartbeat stopped: c10dAllReduce: `),
      );
    }
    assert.equal(reports[dead], undefined);
  });
}
