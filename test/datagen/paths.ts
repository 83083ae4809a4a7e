// Where the tests find the reference's data files: ../shared beside the repository, resolved
// from the repository root (the tests run from it). They are read in place, never copied.

import { resolve } from 'node:path';

export const REFERENCE_DATA = resolve('../shared/reference/llava-data');
export const REFERENCE_PROMPTS = resolve(REFERENCE_DATA, 'playground/data/prompts');
export const CAPS_BOXES_80 = resolve(REFERENCE_DATA, 'llava/eval/table/caps_boxes_coco2014_val_80.jsonl');
