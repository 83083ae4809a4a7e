// `llava merge-lora`, as the reference's scripts/merge_lora_weights.py: the base model, the adapter folder's
// non_lora_trainables (the projector) and its LoRA deltas merged (W + B·A·α/r), saved as a llava-hf checkpoint.
import { loadBaseModel } from './base-model.js';
import { saveStage2 } from './outputs.js';
import { loadAdapter } from './peft.js';

export function mergeLora(options: {
  modelPath: string;
  modelBase: string;
  saveModelPath: string;
  maxShardSize?: string;
}): void {
  // The base as the reference's builder takes it: a LLaVA folder (llava-hf or the original layout).
  const base = loadBaseModel({
    dir: options.modelBase,
    projectorType: 'mlp2x_gelu',
    selectLayer: -2,
    selectFeature: 'patch',
  });
  loadAdapter(options.modelPath, base.model).mergeAndUnload();
  saveStage2(options.saveModelPath, base, { baseDir: options.modelBase, maxShardSize: options.maxShardSize });
}
