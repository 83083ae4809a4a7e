// Grad mode and functional autograd, as torch.no_grad / torch.autograd.grad.
import { native } from './native.js';
import { Tensor } from './tensor.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) throw new TypeError('noGrad()/enableGrad() take a synchronous function');
    return result;
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs fn with gradient recording off (inference, optimizer updates). */
export const noGrad = <T>(fn: () => T): T => withGradMode(false, fn);
export const enableGrad = <T>(fn: () => T): T => withGradMode(true, fn);
export const isGradEnabled = (): boolean => {
  const previous = native.setGradEnabled(true);
  native.setGradEnabled(previous);
  return previous;
};

/** Gradients of `outputs` with respect to `inputs` without touching `.grad` (torch.autograd.grad). */
export function grad(
  outputs: Tensor[],
  inputs: Tensor[],
  options: { gradOutputs?: Tensor[]; retainGraph?: boolean; createGraph?: boolean; allowUnused?: boolean } = {},
): (Tensor | undefined)[] {
  const create = options.createGraph ?? false;
  const grads = native.autogradGrad(
    outputs.map((t) => t.handle),
    inputs.map((t) => t.handle),
    options.gradOutputs?.map((t) => t.handle),
    options.retainGraph ?? create,
    create,
    options.allowUnused ?? false,
  );
  return grads.map((g) => (g === undefined ? undefined : new Tensor(g)));
}

/** Handles alive now (made and neither disposed nor collected): for leak checks. */
export const liveTensorCount = (): number => native.liveHandles();

/**
 * Bytes of the storages that live handles hold, as reported to V8 so that garbage collection feels native memory:
 * each storage once, however many handles (views) share it.
 */
export const liveStorageBytes = (): number => native.accountedBytes();
