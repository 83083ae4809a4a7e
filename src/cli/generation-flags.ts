// The generation flags `llava run` and `llava chat` share, with the reference CLI's defaults (temperature 0.2,
// 512 new tokens; spec §7.4). Temperature 0 is greedy.
import { isDType, type DType } from '../torch/index.js';

export const generationFlags = {
  options: {
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'max-new-tokens': { type: 'string' },
    seed: { type: 'string' },
    dtype: { type: 'string' },
  },
  help: `  --temperature T           0 is greedy (default 0.2, as the reference CLI)
  --top-p P                 nucleus sampling mass (default 1)
  --max-new-tokens N        reply length limit (default 512)
  --seed N                  makes sampling repeatable
  --dtype D                 float32, bfloat16, float16, auto (default float32)
`,
} as const;

export interface GenerationFlags {
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed?: number;
  dtype: DType | 'auto';
}

export function readGenerationFlags(v: Record<string, unknown>): GenerationFlags {
  const num = (name: string, fallback: number, ok: (n: number) => boolean, what: string): number => {
    const text = v[name] as string | undefined;
    if (text === undefined) return fallback;
    const n = Number(text);
    if (text.trim() === '' || !ok(n)) throw new Error(`--${name} must be ${what}, got '${text}'`);
    return n;
  };
  const dtype = (v.dtype as string | undefined) ?? 'float32';
  if (dtype !== 'auto' && !isDType(dtype)) throw new Error(`--dtype '${dtype}' is not a dtype`);
  return {
    temperature: num('temperature', 0.2, (n) => n >= 0 && n <= 100, 'a number >= 0'),
    topP: num('top-p', 1, (n) => n > 0 && n <= 1, 'in (0, 1]'),
    maxNewTokens: num('max-new-tokens', 512, (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1'),
    seed: v.seed === undefined ? undefined : num('seed', 0, Number.isInteger, 'an integer'),
    dtype: dtype as DType | 'auto',
  };
}
