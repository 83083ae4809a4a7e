// Library entry of training (`train` in the main entry): recipes, the Trainer with LLaVA's optimizer groups and
// schedules, the stage rules, LoRA in PEFT's layout, checkpoints that resume exactly, and the stage outputs.
export { loadRecipe, RecipeError, RecipeSchema, type Recipe } from './recipe.js';
export { dryRun, runTraining, type RunOptions } from './run.js';
export {
  NonFiniteLossError,
  Trainer,
  type LossScaling,
  type MicroBatch,
  type MicroBatchSource,
  type StepMetrics,
  type TrainableModel,
  type TrainerOptions,
} from './trainer.js';
export { optimizerGroups, noDecayNames, type NamedParameter, type OptimizerGroup } from './param-groups.js';
export { lrLambda, warmupSteps, type SchedulerType } from './schedule.js';
export { applyStage, type Stage, type Trainable } from './trainability.js';
export { LoraAdapter, LoraLayer, loraTargets, type LoraOptions } from './lora.js';
export { loadAdapter, saveAdapter } from './peft.js';
export { mergeLora } from './merge-lora.js';
export { listCheckpoints, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
export { estimateMemory, countParameters, type MemoryEstimate, type ParameterCounts } from './memory.js';
export { forwardBackwardRecompute } from './recompute.js';
