// Where the evaluation tests find their independent truth: the golden fixtures of LLaVA's own
// evaluation scripts (../shared/golden/llava_eval, see its README) and the reference's data files,
// both read in place from the repository root's sibling folder.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const EVAL_GOLDEN = resolve('../shared/golden/llava_eval');
export const REFERENCE_DATA = resolve('../shared/reference/llava-data');
export const QA90 = resolve(REFERENCE_DATA, 'playground/data/coco2014_val_qa_eval');
export const CAPS_BOXES_80 = resolve(REFERENCE_DATA, 'llava/eval/table/caps_boxes_coco2014_val_80.jsonl');
export const RULE_JSON = resolve(REFERENCE_DATA, 'llava/eval/table/rule.json');
export const MAIN = resolve('dist/src/cli/main.js');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const expected: any = JSON.parse(readFileSync(resolve(EVAL_GOLDEN, 'expected.json'), 'utf8'));

export const golden = (path: string) => resolve(EVAL_GOLDEN, path);
