// `llava merge-lora`, as the reference's scripts/merge_lora_weights.py: the base model, the adapter folder's
// non_lora_trainables (the projector) and its LoRA deltas merged (W + B·A·α/r), saved as a llava-hf checkpoint.
import { LlavaForConditionalGeneration } from '../models/index.js';
import { saveStage2 } from './outputs.js';
import { loadAdapter } from './peft.js';

export function mergeLora(options: {
  modelPath: string;
  modelBase: string;
  saveModelPath: string;
  maxShardSize?: string;
}): void {
  const model = LlavaForConditionalGeneration.fromPretrained(options.modelBase);
  loadAdapter(options.modelPath, model).mergeAndUnload();
  saveStage2(options.saveModelPath, model, { baseDir: options.modelBase, maxShardSize: options.maxShardSize });
}
