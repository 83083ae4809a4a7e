// Readers for ../shared/golden/llava_preprocess (the reference's own preprocessing output; see its README).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Turn } from '../../src/text/image-placement.js';

/** A path under ../shared beside the repository (this file runs from dist/test/helpers/). */
export function sharedPath(...parts: string[]): string {
  return resolve(fileURLToPath(new URL('../../../../shared/', import.meta.url)), ...parts);
}

export const GOLDEN_PREPROCESS = sharedPath('golden', 'llava_preprocess');

export interface GoldenSample {
  id: string;
  image?: string;
  conversations: Turn[];
}
export interface GoldenCase {
  id: string;
  version: string;
  template: string;
  legacy: boolean;
  has_image: boolean;
  applicable: boolean;
  error?: string;
  sources: Turn[];
  prompt: string;
  input_ids: number[];
  labels: number[];
  mismatch: { cur_len: number; total_len: number; printed: string } | null;
  all_labels_masked: boolean;
  mask_check: { cur_len: number; total_len: number; checked: boolean } | null;
  collated_length: number;
  collated_attention_mask_zeros: number;
}
export interface GoldenBatch {
  version: string;
  legacy: boolean;
  ids: string[];
  input_ids: number[][];
  labels: number[][];
  attention_mask: (number | boolean)[][];
}

export function readJsonl<T>(name: string): T[] {
  return readFileSync(resolve(GOLDEN_PREPROCESS, name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

export function goldenSamples(): GoldenSample[] {
  return JSON.parse(readFileSync(resolve(GOLDEN_PREPROCESS, 'samples.json'), 'utf8')) as GoldenSample[];
}
