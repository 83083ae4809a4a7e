// A checkpoint folder loaded for answering questions: the model in eval mode and its processor (shared by
// `llava serve`, `llava chat` and `llava run`).
import { readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { LlavaForConditionalGeneration } from '../models/llava.js';
import type { DType } from '../torch/index.js';
import { LlavaProcessor } from './processor.js';

export interface LoadedModel {
  model: LlavaForConditionalGeneration;
  processor: LlavaProcessor;
  /** The folder's name: the model id both APIs answer to. */
  name: string;
  /** Bytes of the weight files. */
  bytes: number;
}

export function loadModelDir(
  dir: string,
  options: { dtype?: DType | 'auto'; maxPixels?: number; conversationTemplate?: string; visionTower?: string } = {},
): LoadedModel {
  const model = LlavaForConditionalGeneration.fromPretrained(dir, {
    dtype: options.dtype,
    visionTower: options.visionTower,
  });
  model.eval();
  const processor = LlavaProcessor.fromPretrained(dir, {
    maxPixels: options.maxPixels,
    conversationTemplate: options.conversationTemplate,
    visionTower: options.visionTower,
  });
  const bytes = readdirSync(dir)
    .filter((f) => /\.(safetensors|bin)$/.test(f))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  return { model, processor, name: basename(resolve(dir)), bytes };
}
