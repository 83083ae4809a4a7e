// What a finished stage leaves in its output folder, as the reference does (spec §6.1):
//   stage 1: the projector alone, as LLaVA's mm_projector.bin (torch.save, keys model.mm_projector.0.weight ...)
//            and the same tensors as mm_projector.safetensors, plus config.json; stage 2 reads either through
//            pretrain_mm_mlp_adapter;
//   stage 2: a llava-hf checkpoint transformers loads unchanged: config.json, sharded model.safetensors,
//            the tokenizer files and generation_config.json;
//   LoRA:    config.json and the PEFT adapter folder (adapter_config.json, adapter_model.safetensors,
//            non_lora_trainables), which `llava merge-lora` turns into a stage-2 checkpoint.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeAll, writeFileAtomic } from '../io/atomic.js';
import { saveSafetensors } from '../io/tensors.js';
import { saveTorchBin } from '../io/torch-bin-writer.js';
import { llavaConfigJson, type LlavaForConditionalGeneration } from '../models/index.js';
import { originalConfigJson, saveModelFolder, type BaseModel } from './base-model.js';
import type { Tensor } from '../torch/index.js';
import type { LoraAdapter } from './lora.js';
import { saveAdapter } from './peft.js';
import type { NamedParameter } from './param-groups.js';

/** Tokenizer files a checkpoint carries (whichever the tokenizer folder has). */
const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
  'added_tokens.json',
  'chat_template.json',
];

function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, (fd) => writeAll(fd, Buffer.from(JSON.stringify(value, null, 2) + '\n')));
}

/** The projector under LLaVA's names: linear_1 -> model.mm_projector.0, linear_2 -> .2 (a linear projector: model.mm_projector). */
export function referenceProjectorState(model: LlavaForConditionalGeneration): Map<string, Tensor> {
  const mlp = model.config.projector_type === 'mlp2x_gelu';
  const out = new Map<string, Tensor>();
  for (const [name, p] of model.multi_modal_projector.namedParameters()) {
    const [layer, kind] = name.split('.') as [string, string];
    const index = layer === 'linear_1' ? '0' : '2';
    out.set(mlp ? `model.mm_projector.${index}.${kind}` : `model.mm_projector.${kind}`, p);
  }
  return out;
}

/** config.json in the base's layout, with the training keys the reference adds (spec §5.6). */
function writeConfig(dir: string, base: BaseModel, extra: Record<string, unknown>): void {
  const model = base.model;
  writeJson(
    join(dir, 'config.json'),
    base.layout === 'original'
      ? originalConfigJson(model, base.visionTowerName, extra)
      : { ...llavaConfigJson(model.config), torch_dtype: model.parameters()[0]!.dtype },
  );
}

export function saveStage1(dir: string, base: BaseModel, configExtra: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  const state = referenceProjectorState(base.model);
  saveTorchBin(join(dir, 'mm_projector.bin'), state);
  saveSafetensors(join(dir, 'mm_projector.safetensors'), Object.fromEntries(state), { format: 'pt' });
  writeConfig(dir, base, configExtra);
}

/** Copies whichever tokenizer files `from` has into `dir`. */
export function copyTokenizerFiles(from: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const file of TOKENIZER_FILES) {
    const source = join(from, file);
    if (existsSync(source)) copyFileSync(source, join(dir, file));
  }
}

/** Copies the tokenizer files and generation_config.json (the base model's, else one from the config's ids). */
export function copyTokenizerAndGenerationConfig(
  dir: string,
  model: LlavaForConditionalGeneration,
  from: { tokenizerDir?: string; baseDir: string },
): void {
  copyTokenizerFiles(from.tokenizerDir ?? from.baseDir, dir);
  const generation = join(from.baseDir, 'generation_config.json');
  if (existsSync(generation)) copyFileSync(generation, join(dir, 'generation_config.json'));
  else {
    const t = model.config.text_config;
    writeJson(join(dir, 'generation_config.json'), {
      bos_token_id: t.bos_token_id,
      eos_token_id: t.eos_token_id,
      pad_token_id: model.config.pad_token_id,
    });
  }
}

export function saveStage2(
  dir: string,
  base: BaseModel,
  from: {
    tokenizerDir?: string;
    baseDir: string;
    maxShardSize?: number | string;
    configExtra?: Record<string, unknown>;
  },
): void {
  saveModelFolder(dir, base, { maxShardSize: from.maxShardSize, configExtra: from.configExtra });
  copyTokenizerAndGenerationConfig(dir, base.model, from);
}

export function saveLoraOutput(
  dir: string,
  base: BaseModel,
  adapter: LoraAdapter,
  nonLoraTrainables: NamedParameter[],
  from: { baseDir: string; configExtra: Record<string, unknown> },
): void {
  mkdirSync(dir, { recursive: true });
  saveAdapter(dir, adapter, {
    baseModel: from.baseDir,
    nonLoraTrainables,
    layout: base.layout,
    projectorType: base.model.config.projector_type,
  });
  writeConfig(dir, base, from.configExtra);
}
