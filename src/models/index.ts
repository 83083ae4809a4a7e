export * from './config.js';
export {
  LlamaForCausalLM,
  LlamaModel,
  causalMask,
  causalLMHeadLoss,
  causalLMLoss,
  type CausalLMOutput,
  type DecoderInput,
} from './llama.js';
export { CLIPVisionModel, type CLIPVisionOutput } from './clip.js';
export { CLIPTextModel, clipTextConfig, type CLIPTextConfig, type CLIPTextOutput } from './clip-text.js';
export { CLIPModel, clipConfig, clipLoss, type CLIPConfig, type CLIPOutput } from './clip-model.js';
export { MultiModalProjector } from './projector.js';
export { LlavaForConditionalGeneration, type LlavaInput } from './llava.js';
export { spliceImageFeatures } from './merge.js';
export { KVCache } from './kv-cache.js';
export { readConfig } from './config-file.js';
export type { LoadOptions } from './loader.js';
export type { SaveOptions } from './save.js';
export { generate, type GenerationOptions } from './generate.js';
