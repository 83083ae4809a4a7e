// The Hugging Face layouts: LlamaForCausalLM, CLIPVisionModel (alone or inside a full CLIPModel)
// and llava-hf's LlavaForConditionalGeneration, whose checkpoint keys are the module names.
// The model classes pass themselves in, so this file imports them as types only.
import { join } from 'node:path';
import type { CLIPVisionModel } from './clip.js';
import { readConfig } from './config-file.js';
import { clipVisionConfig, llamaConfig, llavaConfig, type CLIPVisionConfig, type LlamaConfig } from './config.js';
import type { LlamaForCausalLM } from './llama.js';
import type { LlavaForConditionalGeneration } from './llava.js';
import { checkLoadOptions, loadWeights, type LoadOptions } from './loader.js';
import { isOriginalLlava, loadOriginalLlava, type LlavaClass } from './original-layout.js';
import { isDerivedBuffer, withWeights } from './weights.js';

// Checkpoint keys map one to one onto module names, less the buffers recomputed here.
const sameKey = (key: string) => (isDerivedBuffer(key) ? undefined : key);

export function loadLlama<M extends LlamaForCausalLM>(
  Model: new (config: LlamaConfig) => M,
  dir: string,
  options: LoadOptions = {},
): M {
  checkLoadOptions(options, dir);
  const config = llamaConfig(readConfig(dir), join(dir, 'config.json'));
  // A tied lm_head is embed_tokens itself; some checkpoints still carry its copy.
  const rename = (k: string) => (config.tie_word_embeddings && k === 'lm_head.weight' ? undefined : sameKey(k));
  return withWeights((open) => loadWeights(() => new Model(config), [{ source: open(dir), rename }], options, dir));
}

export function loadClipVision<M extends CLIPVisionModel>(
  Model: new (config: CLIPVisionConfig) => M,
  dir: string,
  options: LoadOptions = {},
): M {
  checkLoadOptions(options, dir);
  const json = readConfig(dir);
  const config = clipVisionConfig(json, join(dir, 'config.json'));
  // A full CLIPModel checkpoint also holds the text tower and projections: only vision_model.* is ours.
  const rename = (k: string) =>
    k.startsWith('vision_model.') ? sameKey(k) : json.model_type === 'clip' ? undefined : k;
  return withWeights((open) => loadWeights(() => new Model(config), [{ source: open(dir), rename }], options, dir));
}

/** A llava-hf folder, or one in the original LLaVA layout (told apart by its mm_* keys). */
export function loadLlava<M extends LlavaForConditionalGeneration>(
  Model: LlavaClass<M>,
  dir: string,
  options: LoadOptions = {},
): M {
  checkLoadOptions(options, dir);
  const json = readConfig(dir);
  if (isOriginalLlava(json)) return loadOriginalLlava(Model, dir, json, options);
  const config = llavaConfig(json, join(dir, 'config.json'));
  return withWeights((open) =>
    loadWeights(() => new Model(config), [{ source: open(dir), rename: sameKey }], options, dir),
  );
}
