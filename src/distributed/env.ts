// Where this process sits in a distributed run, read from torchrun's environment variables, so
// that schedulers and launchers that start torchrun jobs start ours unchanged.
export type Rendezvous = {
  /** MASTER_ADDR: the host of rank 0, which serves the TCPStore. */
  masterAddr: string;
  /** MASTER_PORT: the TCPStore's port on masterAddr. */
  masterPort: number;
  /** RANK: this process's rank, 0 to worldSize - 1. */
  rank: number;
  /** WORLD_SIZE: the number of processes, over every node. */
  worldSize: number;
  /** LOCAL_RANK: this process's rank on its node (its GPU index). */
  localRank: number;
};

const NAMES = ['MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'] as const;

/** True when the torchrun variables say this process is one rank of a distributed run. */
export const isDistributedEnv = (env: NodeJS.ProcessEnv = process.env): boolean => env.WORLD_SIZE !== undefined;

/** The rendezvous that torchrun's variables describe; every missing or malformed one is named. */
export function rendezvousFromEnv(env: NodeJS.ProcessEnv = process.env): Rendezvous {
  const missing = NAMES.filter((n) => (env[n] ?? '').trim() === '');
  if (missing.length)
    throw new Error(
      `distributed: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set: a rank needs ${NAMES.join(', ')} (as torchrun sets them)`,
    );
  const integer = (name: (typeof NAMES)[number], min: number, max: number): number => {
    const text = env[name]!.trim();
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || value < min || value > max)
      throw new Error(`distributed: ${name}=${env[name]} is not an integer from ${min} to ${max}`);
    return value;
  };
  const worldSize = integer('WORLD_SIZE', 1, 1 << 20);
  return {
    masterAddr: env.MASTER_ADDR!.trim(),
    masterPort: integer('MASTER_PORT', 1, 65535),
    rank: integer('RANK', 0, worldSize - 1),
    worldSize,
    localRank: integer('LOCAL_RANK', 0, worldSize - 1),
  };
}
