// AdamW (Loshchilov & Hutter): Adam with weight decay decoupled from the gradient, step for
// step PyTorch's torch.optim.AdamW (single-tensor path), with parameter groups. Each parameter's update is one
// pass over its arrays (native/adamw.cc).
import { adamwStep_, keep, noGrad, zerosLike, type Tensor } from '../torch/index.js';

export type AdamWHyper = { lr: number; betas: [number, number]; eps: number; weightDecay: number };
export type ParamGroup = { params: Tensor[] } & Partial<AdamWHyper>;
type ParamState = { step: number; expAvg: Tensor; expAvgSq: Tensor };

export const ADAMW_DEFAULTS: AdamWHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2 };

export class AdamW {
  readonly paramGroups: ({ params: Tensor[] } & AdamWHyper)[];
  readonly #state = new Map<Tensor, ParamState>();

  /** `params`: tensors, or groups that override lr / betas / eps / weightDecay (e.g. no decay on norms). */
  constructor(params: Tensor[] | ParamGroup[], defaults: Partial<AdamWHyper> = {}) {
    const base = { ...ADAMW_DEFAULTS, ...defaults };
    const groups: ParamGroup[] =
      params.length > 0 && 'params' in (params[0] as object)
        ? (params as ParamGroup[])
        : [{ params: params as Tensor[] }];
    this.paramGroups = groups.map((g) => ({ ...base, ...g }));
    for (const g of this.paramGroups) validate(g);
  }

  /** Updates every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const g of this.paramGroups) {
        const [beta1, beta2] = g.betas;
        for (const p of g.params) {
          const grad = p.grad;
          if (!grad) continue;
          const s = this.#stateOf(p);
          s.step += 1;
          adamwStep_(p, grad, s.expAvg, s.expAvgSq, { ...g, beta1, beta2, step: s.step });
          grad.dispose();
        }
      }
    });
  }

  /** Clears gradients (set to none, PyTorch's default since 2.0). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = undefined;
  }

  /** Per-parameter moments and step counts, keyed by position across groups (torch's layout). */
  stateDict(): { state: Map<number, ParamState>; paramGroups: AdamWHyper[] } {
    const state = new Map<number, ParamState>();
    this.#allParams().forEach((p, i) => {
      const s = this.#state.get(p);
      if (s) state.set(i, s);
    });
    return { state, paramGroups: this.paramGroups.map(({ params: _params, ...hyper }) => hyper) };
  }

  loadStateDict(dict: { state: Map<number, ParamState>; paramGroups: AdamWHyper[] }): void {
    if (dict.paramGroups.length !== this.paramGroups.length) {
      throw new Error(
        `AdamW.loadStateDict: saved state has ${dict.paramGroups.length} parameter groups, this optimizer ${this.paramGroups.length}`,
      );
    }
    dict.paramGroups.forEach((hyper, i) => Object.assign(this.paramGroups[i]!, hyper));
    const params = this.#allParams();
    for (const [i, s] of dict.state) {
      const p = params[i];
      if (!p) throw new Error(`AdamW.loadStateDict: state for parameter ${i} but only ${params.length} parameters`);
      if (s.expAvg.shape.join() !== p.shape.join())
        throw new Error(
          `AdamW.loadStateDict: parameter ${i} has shape [${p.shape}], saved moments [${s.expAvg.shape}]`,
        );
      this.#state.get(p)?.expAvg.dispose();
      this.#state.get(p)?.expAvgSq.dispose();
      this.#state.set(p, { step: s.step, expAvg: keep(s.expAvg), expAvgSq: keep(s.expAvgSq) });
    }
  }

  #allParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  #stateOf(p: Tensor): ParamState {
    let s = this.#state.get(p);
    if (!s) {
      s = { step: 0, expAvg: keep(zerosLike(p)), expAvgSq: keep(zerosLike(p)) };
      this.#state.set(p, s);
    }
    return s;
  }
}

function validate(g: AdamWHyper): void {
  const bad = (what: string) => {
    throw new RangeError(`AdamW: invalid ${what}`);
  };
  if (!(g.lr >= 0)) bad(`learning rate ${g.lr}`);
  if (!(g.eps >= 0)) bad(`eps ${g.eps}`);
  if (!(g.betas[0] >= 0 && g.betas[0] < 1)) bad(`beta1 ${g.betas[0]}`);
  if (!(g.betas[1] >= 0 && g.betas[1] < 1)) bad(`beta2 ${g.betas[1]}`);
  if (!(g.weightDecay >= 0)) bad(`weight decay ${g.weightDecay}`);
}
