// llava_tiny written in the original LLaVA repository's layout (model.*, model.mm_projector.{0,2},
// the CLIP tower in a sibling folder named by mm_vision_tower), for the checkpoint tests.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as T from '../../src/torch/index.js';
import { openSafetensors, saveSafetensors } from '../../src/io/tensors.js';
import { golden } from '../helpers/golden.js';

/** Writes the checkpoint under `root` (config keys in `config` override the recipe's); returns its folder. */
export function writeOriginalLayout(root: string, config: Record<string, unknown> = {}): { root: string; dir: string } {
  const dir = join(root, 'llava-v1.5-tiny');
  const towerDir = join(root, 'clip-tiny');
  mkdirSync(dir);
  mkdirSync(towerDir);
  for (const f of ['config.json', 'model.safetensors'])
    copyFileSync(join(golden('clip_vision_tiny').dir, f), join(towerDir, f));
  const hf = JSON.parse(readFileSync(join(golden('llava_tiny').dir, 'config.json'), 'utf8'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      ...hf.text_config,
      architectures: ['LlavaLlamaForCausalLM'],
      model_type: 'llava',
      mm_vision_tower: 'openai/clip-tiny',
      mm_hidden_size: 48,
      mm_projector_type: 'mlp2x_gelu',
      mm_vision_select_layer: -2,
      mm_vision_select_feature: 'patch',
      image_aspect_ratio: 'pad',
      tokenizer_padding_side: 'right',
      tokenizer_model_max_length: 2048,
      mm_use_im_start_end: false,
      use_mm_proj: true,
      ...config,
    }),
  );
  const reader = openSafetensors(golden('llava_tiny').dir);
  const renamed: Record<string, T.Tensor> = {};
  for (const key of reader.names()) {
    if (key.startsWith('vision_tower.')) continue; // the tower lives in its own folder
    const name = key
      .replace('language_model.model.', 'model.')
      .replace('language_model.lm_head.', 'lm_head.')
      .replace('multi_modal_projector.linear_1.', 'model.mm_projector.0.')
      .replace('multi_modal_projector.linear_2.', 'model.mm_projector.2.');
    renamed[name] = reader.readTensor(key);
  }
  reader.close();
  saveSafetensors(join(dir, 'model.safetensors'), renamed, { format: 'pt' });
  return { root, dir };
}
