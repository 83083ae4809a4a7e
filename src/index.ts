// llava-ts: the package's main entry. It loads the native libtorch addon; the data engine,
// which needs no tensors, has its own entry (`llava-ts/datagen`) that does not.
export * from './torch/index.js';
export * as nn from './nn/index.js';
export { runtimeReport, measureGemmGflops, type RuntimeReport } from './torch/runtime.js';
export {
  LlavaForConditionalGeneration,
  LlamaForCausalLM,
  CLIPVisionModel,
  KVCache,
  type LlavaInput,
  type GenerationOptions,
  type LoadOptions,
  type CausalLMOutput,
} from './models/index.js';
export { openSafetensors, saveSafetensors, saveShardedSafetensors } from './io/tensors.js';
export { openTorchBin } from './io/torch-bin-tensors.js';
// The text, image and data paths, also reachable without the addon as `llava-ts/text` and `llava-ts/vision`.
export * as text from './text/index.js';
export * as vision from './vision/index.js';
export * as data from './data/index.js';
export { TextTokenizer, conversationTemplate, type ChatMessage } from './text/index.js';
export { ClipImageProcessor, decodeImage, decodeImageFile, ImageDecodeError } from './vision/index.js';
export { SupervisedDataset, DataLoader } from './data/index.js';
export * as train from './train/index.js';
export * from './serve/index.js';
