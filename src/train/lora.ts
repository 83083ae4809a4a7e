// LoRA (Hu et al.) on the language model's linear layers, as PEFT's LoraLayer: y = W·x + B·A·dropout(x) · α/r,
// with A [r, in] initialised U(±1/√in) (PEFT's kaiming_uniform_(a=√5)) and B [out, r] zeros. Targets are every
// Linear under language_model except lm_head (LLaVA's find_all_linear_names), never the projector or the CLIP
// tower: matching bare suffixes (q_proj, k_proj, v_proj) would also catch CLIP's attention on llava-hf models.
// The base model keeps its own parameter names; each target's forward gains the low-rank path, and the adapter
// parameters are named `<target>.lora_A.weight` (PEFT's key without the `base_model.model.` prefix).
import { Dropout, Linear, Module } from '../nn/index.js';
import { noGrad, type Tensor } from '../torch/index.js';

export type LoraOptions = {
  r: number;
  alpha: number;
  dropout: number;
  /** Linear modules under language_model by last name (default: all of them but lm_head). */
  targetModules?: string[];
};

/** The low-rank pair of one target Linear. */
export class LoraLayer extends Module {
  readonly lora_A: Linear;
  readonly lora_B: Linear;
  readonly lora_dropout: Dropout;
  constructor(
    readonly base: Linear,
    readonly r: number,
    readonly scaling: number,
    dropout: number,
  ) {
    super();
    this.lora_A = this.registerModule('lora_A', new Linear(base.inFeatures, r, false));
    this.lora_B = this.registerModule('lora_B', new Linear(r, base.outFeatures, false));
    noGrad(() => this.lora_B.weight.zero_());
    this.lora_dropout = this.registerModule('lora_dropout', new Dropout(dropout));
  }

  /** x [..., in] -> base(x) + B(A(dropout(x))) · scaling, [..., out] */
  forward(x: Tensor): Tensor {
    const base = Linear.prototype.forward.call(this.base, x);
    return base.add(this.lora_B.forward(this.lora_A.forward(this.lora_dropout.forward(x))).mul(this.scaling));
  }

  /** The update merged into W: B·A·scaling [out, in]. */
  delta(): Tensor {
    return this.lora_B.weight.matmul(this.lora_A.weight).mul(this.scaling);
  }
}

/** The adapters of one model, keyed by the target module's name (`language_model.model.layers.0.self_attn.q_proj`). */
export class LoraAdapter extends Module {
  readonly layers = new Map<string, LoraLayer>();
  constructor(
    readonly options: LoraOptions,
    targets: [string, Linear][],
  ) {
    super();
    if (!(Number.isInteger(options.r) && options.r > 0))
      throw new RangeError(`LoRA r must be a positive integer, got ${options.r}`);
    if (!(options.dropout >= 0 && options.dropout < 1))
      throw new RangeError(`LoRA dropout must be in [0, 1), got ${options.dropout}`);
    if (targets.length === 0) throw new Error('LoRA: no target Linear module under language_model');
    for (const [name, linear] of targets) {
      const layer = new LoraLayer(linear, options.r, options.alpha / options.r, options.dropout);
      this.layers.set(name, this.registerModule(name, layer));
    }
  }

  get scaling(): number {
    return this.options.alpha / this.options.r;
  }

  /** Routes each target's forward through its LoRA layer. */
  attach(): this {
    for (const layer of this.layers.values()) layer.base.forward = (x: Tensor) => layer.forward(x);
    return this;
  }

  /** Back to the plain Linear forward (the adapter stays as it is). */
  detach(): this {
    for (const layer of this.layers.values()) delete (layer.base as Partial<Linear>).forward;
    return this;
  }

  /** merge_and_unload: W ← W + B·A·scaling in every target, then the plain forward. */
  mergeAndUnload(): void {
    noGrad(() => {
      for (const layer of this.layers.values()) {
        const delta = layer.delta();
        layer.base.weight.add_(delta);
        delta.dispose();
      }
    });
    this.detach();
  }
}

/** The target Linear modules of `model` (a LlavaForConditionalGeneration): under language_model, not lm_head. */
export function loraTargets(model: Module, targetModules?: string[]): [string, Linear][] {
  const out: [string, Linear][] = [];
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof Linear) || !name.startsWith('language_model.') || name === 'language_model.lm_head') continue;
    const last = name.slice(name.lastIndexOf('.') + 1);
    if (targetModules && !targetModules.includes(last)) continue;
    out.push([name, m]);
  }
  return out;
}

/**
 * PEFT's `target_modules` regex for these targets, limited to the language model (PEFT full-matches it against
 * module names: llava-hf's language_model.model.layers..., or the original layout's model.layers...).
 */
export function targetModulesRegex(targets: [string, Linear][], layout: 'llava-hf' | 'original'): string {
  const names = [...new Set(targets.map(([n]) => n.slice(n.lastIndexOf('.') + 1)))].join('|');
  return layout === 'llava-hf'
    ? `.*language_model\\..*\\.(${names})`
    : `model\\.layers\\.\\d+\\.(self_attn|mlp)\\.(${names})`;
}
