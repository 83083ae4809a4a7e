// A small random llava-hf checkpoint that uses LLaMA's real tokenizer (vocab 32000, <image> = 32000), with a 32 px
// CLIP tower, and an instruction file with images, for end-to-end runs of `llava train` on this machine.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlavaForConditionalGeneration, llavaConfig } from '../../src/models/index.js';
import { manualSeed } from '../../src/torch/index.js';
import { coordinates, rawImage, solid } from '../helpers/text-images.js';
import { goldenRoot } from '../helpers/golden.js';

export function writeSmallLlava(dir: string): void {
  manualSeed(0);
  const config = llavaConfig({
    model_type: 'llava',
    image_token_index: 32000,
    pad_token_id: 0,
    projector_hidden_act: 'gelu',
    vision_feature_layer: -2,
    vision_feature_select_strategy: 'default',
    text_config: {
      model_type: 'llama',
      vocab_size: 32064,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      max_position_embeddings: 512,
      pad_token_id: 0,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      image_size: 32,
      patch_size: 8,
      projection_dim: 32,
    },
  });
  const model = new LlavaForConditionalGeneration(config);
  model.savePretrained(dir);
  // LLaMA's SentencePiece tokenizer (legacy false), as original LLaVA and Vicuna folders ship it.
  const tokenizer = join(goldenRoot, 'llava_preprocess', 'tokenizer');
  for (const f of ['tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json'])
    copyFileSync(join(tokenizer, f), join(dir, f));
  writeFileSync(
    join(dir, 'preprocessor_config.json'),
    JSON.stringify({ size: { shortest_edge: 32 }, crop_size: 32, do_center_crop: true, do_normalize: true }),
  );
}

const CAPTIONS = [
  'A red square.',
  'Two cats on a mat.',
  'A sunny beach with palm trees.',
  'Blue sky.',
  'A bowl of fruit on a table.',
  'Snow on the mountain top.',
];

/** n samples (plain captions for stage 1, or v1 conversations), each with its own image. */
export async function writeInstructionData(dir: string, n: number, kind: 'caption' | 'conversation'): Promise<string> {
  const images = join(dir, 'images');
  mkdirSync(images, { recursive: true });
  const records = [];
  for (let i = 0; i < n; i++) {
    const file = `img${i}.png`;
    const pixels = i % 2 ? coordinates(24 + i, 20) : solid(24 + i, 20, [200, 30 + i * 10, 40]);
    await rawImage(pixels, 24 + i, 20, 3)
      .png()
      .toFile(join(images, file));
    const caption = CAPTIONS[i % CAPTIONS.length]!;
    const conversations =
      kind === 'caption'
        ? [
            { from: 'human', value: '<image>\nDescribe the image briefly.' },
            { from: 'gpt', value: caption },
          ]
        : [
            { from: 'human', value: 'What is in the picture?\n<image>' },
            { from: 'gpt', value: `It shows this: ${caption}` },
            { from: 'human', value: 'Anything else?' },
            { from: 'gpt', value: 'Nothing else stands out.' },
          ];
    records.push({ id: `s${i}`, image: file, conversations });
  }
  const path = join(dir, `${kind}.json`);
  writeFileSync(path, JSON.stringify(records));
  return path;
}
