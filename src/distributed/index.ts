// Distributed training over libtorch's c10d: rendezvous, process groups, launcher, data parallel.
export { rendezvousFromEnv, isDistributedEnv, type Rendezvous } from './env.js';
export {
  ProcessGroup,
  RankFailureError,
  DEFAULT_TIMEOUT_MS,
  type GroupOptions,
  type ReduceOp,
} from './process-group.js';
export { launch, freePort, RankExitError, type LaunchOptions, type RankExit } from './launch.js';
export { DataParallel, DEFAULT_BUCKET_BYTES, type DataParallelOptions } from './data-parallel.js';
export { ZeroOptimizer, type ZeroStage } from './zero.js';
export {
  countParameters,
  perRankBytes,
  llavaV15Parameters,
  formatEstimate,
  type ShardingOption,
  type StateBytes,
  type Precision,
  type ParameterCount,
} from './memory.js';
