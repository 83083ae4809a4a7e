// Module: named parameters, buffers and children, as torch.nn.Module. Names are the
// checkpoint keys (`layers.0.self_attn.q_proj.weight`), so a state dict maps one to one onto
// a transformers checkpoint. Parameters are kept out of every scope(): they live until dispose().
import { empty, isDType, isFloating, keep, noGrad, type DType, type Tensor } from '../torch/index.js';

export type StateDict = Map<string, Tensor>;

export abstract class Module {
  training = true;
  readonly #parameters = new Map<string, Tensor>();
  readonly #buffers = new Map<string, { tensor: Tensor; persistent: boolean }>();
  readonly #children = new Map<string, Module>();
  readonly #initializers = new Map<string, (t: Tensor) => void>();

  protected registerParameter(name: string, t: Tensor, requiresGrad = true): Tensor {
    this.#parameters.set(name, keep(t.requiresGrad_(requiresGrad)));
    return t;
  }

  /**
   * A parameter of `shape` filled in place by `init` (in float32). The initialiser is kept, so a
   * model built on 'meta' can later make any parameter for real (materializeParameters).
   */
  protected initParameter(name: string, shape: number[], init: (t: Tensor) => void, requiresGrad = true): Tensor {
    const t = empty(shape);
    noGrad(() => init(t));
    this.#initializers.set(name, init);
    return this.registerParameter(name, t, requiresGrad);
  }

  /** Non-trained state (e.g. rotary frequencies); non-persistent buffers stay out of the state dict. */
  protected registerBuffer(name: string, t: Tensor, persistent = true): Tensor {
    this.#buffers.set(name, { tensor: keep(t), persistent });
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.#children) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules())
      for (const [name, p] of m.#parameters) out.push([prefix ? `${prefix}.${name}` : name, p]);
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(includeNonPersistent = true): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, b] of m.#buffers)
        if (b.persistent || includeNonPersistent) out.push([prefix ? `${prefix}.${name}` : name, b.tensor]);
    }
    return out;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Stops (or restarts) gradients for every parameter, e.g. the frozen vision tower. */
  freeze(frozen = true): this {
    for (const p of this.parameters()) p.requiresGrad = !frozen;
    return this;
  }

  unfreeze(): this {
    return this.freeze(false);
  }

  /** Parameters and persistent buffers by checkpoint key (the live tensors, not copies). */
  stateDict(): StateDict {
    return new Map([...this.namedParameters(), ...this.namedBuffers(false)]);
  }

  /**
   * Copies `state` into this module's tensors (casting dtype as needed), or with `assign` makes
   * them hold the given tensors themselves (a model built on 'meta'). strict (the default)
   * throws listing every missing and unexpected key; a shape mismatch always throws, naming the
   * tensor and both shapes.
   */
  loadStateDict(
    state: StateDict | Record<string, Tensor>,
    options: { strict?: boolean; assign?: boolean } = {},
  ): { missingKeys: string[]; unexpectedKeys: string[] } {
    const given = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !own.has(k));
    if ((options.strict ?? true) && (missingKeys.length || unexpectedKeys.length)) {
      throw new Error(
        `loadStateDict for ${this.constructor.name}:` +
          (missingKeys.length ? `\n  missing keys (${missingKeys.length}): ${missingKeys.join(', ')}` : '') +
          (unexpectedKeys.length ? `\n  unexpected keys (${unexpectedKeys.length}): ${unexpectedKeys.join(', ')}` : ''),
      );
    }
    for (const [key, target] of own) {
      const src = given.get(key);
      if (!src) continue;
      if (src.shape.join() !== target.shape.join()) {
        throw new Error(
          `loadStateDict for ${this.constructor.name}: '${key}' has shape [${src.shape}] in the state dict but [${target.shape}] in the model`,
        );
      }
      if (options.assign) target.assign(src);
      else noGrad(() => target.copy_(src));
    }
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Allocates the parameters named by `keys` (checkpoint keys) on `device` and runs their
   * initialisers again, then casts them to `dtype`: the keys a non-strict load of a model built
   * on 'meta' did not find. Nothing else is allocated or drawn from the random generator.
   */
  materializeParameters(keys: Iterable<string>, dtype: DType, device = 'cpu'): void {
    const wanted = new Set(keys);
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, p] of m.#parameters) {
        const key = prefix ? `${prefix}.${name}` : name;
        if (!wanted.delete(key)) continue;
        const init = m.#initializers.get(name);
        if (!init)
          throw new Error(
            `${this.constructor.name}: '${key}' was registered without an initialiser (registerParameter), so it cannot be made without a checkpoint; register it with initParameter`,
          );
        noGrad(() => {
          const fresh = empty(p.shape, { device });
          init(fresh);
          const cast = fresh.dtype === dtype ? fresh : fresh.to(dtype);
          p.assign(cast);
          cast.dispose();
          if (cast !== fresh) fresh.dispose();
        });
      }
    }
    if (wanted.size) throw new Error(`${this.constructor.name}: no parameters named ${[...wanted].join(', ')}`);
  }

  /** Casts every floating parameter and buffer to `dtype`, or moves all to a device, in place. */
  to(target: DType | string): this {
    noGrad(() => {
      for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
        if (isDType(target) && !isFloating(t.dtype)) continue; // ids and masks keep their type
        const moved = t.to(target);
        t.assign(moved);
        moved.dispose();
      }
    });
    return this;
  }

  /** Frees every parameter and buffer now. */
  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) t.dispose();
  }
}

/** Children named 0, 1, 2, ... as nn.ModuleList (`layers.0.mlp...`). */
export class ModuleList<M extends Module> extends Module implements Iterable<M> {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this.items.length;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
