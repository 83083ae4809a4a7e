// An original-layout LLaVA checkpoint (the reference's LlavaLlamaForCausalLM: stage 2's output when training started
// from a plain LLaMA and a CLIP folder) rewritten in the llava-hf layout that transformers' LlavaForConditionalGeneration
// loads, as llava-hf's conversion script does: the same weights under llava-hf names, and the image placeholder moved
// from -200 to an `<image>` token of the vocabulary. Here the tokenizer must already hold `<image>` (the demo's
// tokenizer is built with it), so no embedding row is added; a chat template that renders the checkpoint's
// conversation template is written beside the tokenizer, because llava-hf folders are prompted through one.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlavaForConditionalGeneration, llavaConfigJson } from '../models/index.js';
import { savePretrained } from '../models/save.js';
import { TextTokenizer } from '../text/tokenizer.js';
import { copyTokenizerAndGenerationConfig } from './outputs.js';

export function convertToLlavaHf(
  src: string,
  out: string,
  options: { visionTower?: string; chatTemplate: string },
): void {
  const tokenizer = TextTokenizer.fromDir(src);
  const imageId = tokenizer.tokenToId('<image>');
  if (imageId === undefined)
    throw new Error(`${src}: the tokenizer has no <image> token; the llava-hf layout needs one inside the vocabulary`);
  const model = LlavaForConditionalGeneration.fromPretrained(src, { visionTower: options.visionTower });
  if (imageId >= model.config.text_config.vocab_size)
    throw new Error(`${src}: <image> is id ${imageId}, outside the LLM's ${model.config.text_config.vocab_size} rows`);
  mkdirSync(out, { recursive: true });
  savePretrained(model, llavaConfigJson({ ...model.config, image_token_index: imageId }), out);
  copyTokenizerAndGenerationConfig(out, model, { baseDir: src });
  writeFileSync(
    join(out, 'chat_template.json'),
    JSON.stringify({ chat_template: options.chatTemplate }, null, 2) + '\n',
  );
  const preprocessor = [src, options.visionTower].find((d) => d && existsSync(join(d, 'preprocessor_config.json')));
  if (preprocessor) copyFileSync(join(preprocessor, 'preprocessor_config.json'), join(out, 'preprocessor_config.json'));
  model.dispose();
}
