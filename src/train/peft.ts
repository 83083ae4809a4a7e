// LoRA adapters in PEFT's files (PEFT 0.10 save_pretrained), so PEFT and LLaVA's builder load them unchanged:
//   adapter_config.json        PEFT's LoraConfig fields
//   adapter_model.safetensors  base_model.model.<target>.lora_{A,B}.weight (PEFT drops the adapter name 'default')
//   non_lora_trainables.*      the other trainable parameters (the projector), keys base_model.model.<name>;
//                              .safetensors beside LLaVA's torch.save non_lora_trainables.bin
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAll, writeFileAtomic } from '../io/atomic.js';
import { openSafetensors, saveSafetensors } from '../io/tensors.js';
import { openTorchBin } from '../io/torch-bin-tensors.js';
import { saveTorchBin } from '../io/torch-bin-writer.js';
import type { LlavaForConditionalGeneration, ProjectorType } from '../models/index.js';
import { Linear } from '../nn/index.js';
import { noGrad, type Tensor } from '../torch/index.js';
import { llavaHfName, originalKey, type Layout } from './base-model.js';
import { LoraAdapter, targetModulesRegex } from './lora.js';
import type { NamedParameter } from './param-groups.js';

export const PEFT_PREFIX = 'base_model.model.';
export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** PEFT 0.10's LoraConfig as adapter_config.json holds it (keys sorted, as PEFT writes them). */
function adapterConfig(adapter: LoraAdapter, baseModel: string, layout: Layout): Record<string, unknown> {
  const targets = [...adapter.layers].map(([name, layer]) => [name, layer.base] as [string, Linear]);
  const config: Record<string, unknown> = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: adapter.options.alpha,
    lora_dropout: adapter.options.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: adapter.options.r,
    rank_pattern: {},
    revision: null,
    target_modules: targetModulesRegex(targets, layout),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  };
  return config;
}

/** Writes the adapter folder: config, LoRA tensors, and the non-LoRA trainables (safetensors and LLaVA's .bin). */
export function saveAdapter(
  dir: string,
  adapter: LoraAdapter,
  options: { baseModel: string; nonLoraTrainables: NamedParameter[]; layout?: Layout; projectorType?: ProjectorType },
): void {
  const layout = options.layout ?? 'llava-hf';
  // Keys in the base's own names, as PEFT wrapped that model (original layout: model.layers..., model.mm_projector...).
  const key = (name: string) =>
    PEFT_PREFIX + (layout === 'original' ? originalKey(name, options.projectorType ?? 'mlp2x_gelu') : name);
  const json = JSON.stringify(adapterConfig(adapter, options.baseModel, layout), null, 2) + '\n';
  writeFileAtomic(join(dir, ADAPTER_CONFIG), (fd) => writeAll(fd, Buffer.from(json)));
  const lora = Object.fromEntries(adapter.namedParameters().map(([n, p]) => [key(n), p]));
  saveSafetensors(join(dir, ADAPTER_WEIGHTS), lora, { format: 'pt' });
  if (options.nonLoraTrainables.length === 0) return;
  const others = new Map(options.nonLoraTrainables.map(([n, p]) => [key(n), p] as [string, Tensor]));
  saveSafetensors(join(dir, 'non_lora_trainables.safetensors'), Object.fromEntries(others), { format: 'pt' });
  saveTorchBin(join(dir, 'non_lora_trainables.bin'), others);
}

type AdapterConfigJson = {
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  peft_type: string;
  bias?: string;
  use_rslora?: boolean;
  use_dora?: boolean;
  fan_in_fan_out?: boolean;
};

/**
 * Loads a PEFT LoRA folder onto `model` (a llava-hf model): the adapter's targets are the modules its tensors
 * name; non_lora_trainables (when present) are loaded into the model. Returns the attached adapter.
 */
export function loadAdapter(dir: string, model: LlavaForConditionalGeneration): LoraAdapter {
  const configPath = join(dir, ADAPTER_CONFIG);
  if (!existsSync(configPath)) throw new Error(`${dir}: no ${ADAPTER_CONFIG} (is this a PEFT adapter folder?)`);
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as AdapterConfigJson;
  if (config.peft_type !== 'LORA') throw new Error(`${configPath}: peft_type is '${config.peft_type}', not 'LORA'`);
  if (config.bias !== undefined && config.bias !== 'none')
    throw new Error(`${configPath}: bias '${config.bias}' is not supported (only 'none', as LLaVA trains)`);
  for (const key of ['use_rslora', 'use_dora', 'fan_in_fan_out'] as const)
    if (config[key])
      throw new Error(`${configPath}: ${key} is true; only plain LoRA (scaling alpha/r, W [out, in]) is supported`);
  const weights = openSafetensors(join(dir, ADAPTER_WEIGHTS));
  const modules = new Map(model.namedModules());
  const targets: [string, Linear][] = [];
  for (const key of weights.names()) {
    const match = /^base_model\.model\.(.+)\.lora_A\.weight$/.exec(key);
    if (!match) continue;
    const name = llavaHfName(match[1]!);
    const target = modules.get(name);
    if (!(target instanceof Linear))
      throw new Error(`${dir}/${ADAPTER_WEIGHTS}: '${key}' names no Linear module of the model`);
    targets.push([name, target]);
  }
  const adapter = new LoraAdapter({ r: config.r, alpha: config.lora_alpha, dropout: config.lora_dropout }, targets);
  loadAdapterWeights(adapter, weights, `${dir}/${ADAPTER_WEIGHTS}`);
  weights.close();
  loadNonLoraTrainables(dir, model);
  return adapter.attach();
}

/** Copies PEFT-keyed LoRA tensors into `adapter` (every tensor of both must match by name and shape). */
export function loadAdapterWeights(
  adapter: LoraAdapter,
  weights: { names(): string[]; readTensor(name: string): Tensor },
  where: string,
): void {
  const state = new Map<string, Tensor>();
  for (const key of weights.names()) {
    if (!key.startsWith(PEFT_PREFIX)) throw new Error(`${where}: key '${key}' does not start with '${PEFT_PREFIX}'`);
    state.set(llavaHfName(key.slice(PEFT_PREFIX.length)), weights.readTensor(key));
  }
  try {
    adapter.loadStateDict(state);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

/** non_lora_trainables.{safetensors,bin}: keys base_model.model.<name> (llava-hf or the reference's) into the model, when present. */
function loadNonLoraTrainables(dir: string, model: LlavaForConditionalGeneration): void {
  const path = ['non_lora_trainables.safetensors', 'non_lora_trainables.bin']
    .map((f) => join(dir, f))
    .find((p) => existsSync(p));
  if (!path) return;
  const source = path.endsWith('.bin') ? openTorchBin(path) : openSafetensors(path);
  const own = new Map(model.namedParameters());
  noGrad(() => {
    for (const key of source.names()) {
      const name = llavaHfName(key.startsWith(PEFT_PREFIX) ? key.slice(PEFT_PREFIX.length) : key);
      const target = own.get(name);
      if (!target)
        throw new Error(
          `${path}: '${key}' is not a parameter of the model (llava-hf or the reference's names expected)`,
        );
      const t = source.readTensor(key);
      if (t.shape.join() !== target.shape.join())
        throw new Error(`${path}: '${key}' has shape [${t.shape}], the model [${target.shape}]`);
      target.copy_(t);
      t.dispose();
    }
  });
  source.close();
}
