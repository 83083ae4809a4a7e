// Memory scopes, as tf.tidy or TorchSharp's dispose scopes: every tensor made inside
// `scope(fn)` is disposed when fn returns, except the tensors fn returns (in an array or a
// plain object too) and those passed to `keep()`. A forgotten tensor outside any scope is still
// freed when V8 collects its handle (the native finalizer), only later.
import type { Tensor } from './tensor.js';

let current: Tensor[] | null = null;
const kept = new WeakSet<Tensor>();

export function track(t: Tensor): void {
  current?.push(t);
}

/** Exempts a tensor from every enclosing scope (model parameters, optimizer state). */
export function keep<T extends Tensor>(t: T): T {
  kept.add(t);
  return t;
}

export function scope<T>(fn: () => T): T {
  const outer = current;
  const made: Tensor[] = [];
  current = made;
  let result: T | undefined;
  let ok = false;
  try {
    result = fn();
    if (result instanceof Promise)
      throw new TypeError('scope() takes a synchronous function: tensors made across an await cannot be tracked');
    ok = true;
    return result;
  } finally {
    current = outer;
    const returned = ok ? collectTensors(result, new Set()) : new Set<Tensor>();
    for (const t of made) {
      if (returned.has(t) || kept.has(t)) outer?.push(t);
      else t.dispose();
    }
  }
}

function collectTensors(value: unknown, into: Set<Tensor>, depth = 0): Set<Tensor> {
  if (value === null || typeof value !== 'object' || depth > 8) return into;
  if (isTensor(value)) into.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collectTensors(v, into, depth + 1);
  return into;
}

function isTensor(value: object): value is Tensor {
  return (value as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] === 'Tensor';
}
