// torchrun's variables read into a rendezvous, every missing or malformed one named; the
// launcher's own argument checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, rendezvousFromEnv } from '../../src/distributed/index.js';

const torchrun = { MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500', RANK: '3', WORLD_SIZE: '8', LOCAL_RANK: '3' };

test("torchrun's variables become the rendezvous", () => {
  assert.deepEqual(rendezvousFromEnv(torchrun), {
    masterAddr: '10.0.0.1',
    masterPort: 29500,
    rank: 3,
    worldSize: 8,
    localRank: 3,
  });
});

test('missing and malformed variables are named', () => {
  assert.throws(
    () => rendezvousFromEnv({ MASTER_ADDR: 'h', RANK: '0', WORLD_SIZE: '2' }),
    /^Error: distributed: MASTER_PORT, LOCAL_RANK are not set: a rank needs MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK \(as torchrun sets them\)$/,
  );
  assert.throws(
    () => rendezvousFromEnv({ ...torchrun, RANK: '8' }),
    /^Error: distributed: RANK=8 is not an integer from 0 to 7$/,
  );
  assert.throws(
    () => rendezvousFromEnv({ ...torchrun, MASTER_PORT: '70000' }),
    /^Error: distributed: MASTER_PORT=70000 is not an integer from 1 to 65535$/,
  );
  assert.throws(
    () => rendezvousFromEnv({ ...torchrun, WORLD_SIZE: 'two' }),
    /^Error: distributed: WORLD_SIZE=two is not an integer from 1 to 1048576$/,
  );
});

test('launch refuses a bad rank count and a multi-node run without a master address', async () => {
  await assert.rejects(
    launch({ script: 'x.js', nprocPerNode: 0 }),
    /^Error: distributed launch: nprocPerNode must be a positive integer, got 0$/,
  );
  await assert.rejects(
    launch({ script: 'x.js', nprocPerNode: 2, nnodes: 2, nodeRank: 2 }),
    /^Error: distributed launch: nodeRank 2 is not a node of nnodes 2$/,
  );
  await assert.rejects(
    launch({ script: 'x.js', nprocPerNode: 2, nnodes: 2, nodeRank: 1 }),
    /^Error: distributed launch: a run over several nodes needs masterAddr and masterPort, the same on every node$/,
  );
});
