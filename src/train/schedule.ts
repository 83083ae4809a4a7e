// Learning-rate schedules as transformers' get_scheduler: a multiplier λ(s) of each group's initial lr, where s is
// the number of optimizer steps already taken (0 for the first step). With warmup ≥ 1 the first step has lr 0:
// the weights stay put while Adam's moments and step count advance, exactly as Trainer does.

export type SchedulerType = 'cosine' | 'linear' | 'constant' | 'constant_with_warmup';

/** TrainingArguments.get_warmup_steps: explicit steps win, else ceil(ratio × total). */
export function warmupSteps(total: number, ratio: number, explicit = 0): number {
  return explicit > 0 ? explicit : Math.ceil(total * ratio);
}

/** λ(s) for s in 0..total-1 (transformers' lr_lambda of each schedule; cosine with num_cycles 0.5). */
export function lrLambda(type: SchedulerType, s: number, warmup: number, total: number): number {
  if (type === 'constant') return 1;
  if (s < warmup) return s / Math.max(1, warmup);
  if (type === 'constant_with_warmup') return 1;
  const progress = (s - warmup) / Math.max(1, total - warmup);
  if (type === 'linear') return Math.max(0, (total - s) / Math.max(1, total - warmup));
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 2 * 0.5 * progress)));
}
