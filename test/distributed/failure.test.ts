// A rank SIGKILLed while another waits in an all-reduce with it: the survivor stops on its own
// (exit code 1, not killed by the launcher after its failureTimeoutMs) with an error naming the
// dead rank, and the launch rejects naming the killed rank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RankExitError } from '../../src/distributed/index.js';
import { runRanks } from './helpers.js';

const cases = [
  { world: 2, dead: 1, why: 'no heartbeat' },
  { world: 3, dead: 2, why: 'no heartbeat' },
  // rank 0 also serves the store the heartbeats live in
  { world: 2, dead: 0, why: 'no heartbeat, or the rendezvous store rank 0 serves stopped answering' },
];
for (const { world, dead, why } of cases) {
  test(`SIGKILL of rank ${dead} of ${world} mid-collective: the others exit non-zero naming it`, async () => {
    const { reports, launchError } = await runRanks('dieMidCollective', world, { LLAVA_TEST_VICTIM: String(dead) });
    assert.ok(launchError instanceof RankExitError, String(launchError));
    const exits = [...launchError.exits].sort((a, b) => a.rank - b.rank);
    assert.deepEqual(exits[dead], { rank: dead, code: null, signal: 'SIGKILL' });
    assert.match(launchError.message, new RegExp(`^distributed launch: rank ${dead} was killed by SIGKILL; `));
    for (let r = 0; r < world; r++) {
      if (r === dead) continue;
      assert.deepEqual(exits[r], { rank: r, code: 1, signal: null }, `rank ${r} stopped by itself`);
      assert.equal(
        reports[r]!.error!.startsWith(`allReduce failed on rank ${r}: rank ${dead} is gone (${why}): c10dAllReduce: `),
        true,
        reports[r]!.error,
      );
    }
    assert.equal(reports[dead], undefined);
  });
}
