// Estimated cost: tokens times a price table in USD per million tokens. The built-in rows are
// OpenAI list prices (2025) for models people use for this; `--prices FILE` (JSON of the same
// shape) adds or overrides rows. A dated snapshot ("gpt-4o-2024-08-06") takes the longest
// model-name prefix in the table. No matching row means the cost is reported as unknown.

import { readFile } from 'node:fs/promises';
import type { Usage } from './client.js';

export interface Price {
  input: number;
  output: number;
}
export type PriceTable = Record<string, Price>;

export const DEFAULT_PRICES: PriceTable = {
  'gpt-4-0314': { input: 30, output: 60 },
  'gpt-4': { input: 30, output: 60 },
  'gpt-4-turbo': { input: 10, output: 30 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
};

export async function loadPrices(path: string): Promise<PriceTable> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`prices: cannot read ${path} (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`prices: ${path} must be a JSON object {model: {input, output}}`);
  for (const [model, price] of Object.entries(value)) {
    const p = price as Partial<Price> | null;
    if (!(typeof p?.input === 'number' && p.input >= 0 && typeof p.output === 'number' && p.output >= 0)) {
      throw new Error(
        `prices: ${path}: "${model}" needs non-negative numbers "input" and "output" (USD per 1M tokens)`,
      );
    }
  }
  return { ...DEFAULT_PRICES, ...(value as PriceTable) };
}

export function priceFor(table: PriceTable, model: string): Price | undefined {
  const match = Object.keys(table)
    .filter((name) => model.startsWith(name))
    .sort((a, b) => b.length - a.length)[0];
  return match === undefined ? undefined : table[match];
}

/** USD, or undefined when the model has no price. */
export function estimateCost(price: Price | undefined, usage: Usage): number | undefined {
  if (!price) return undefined;
  return (usage.promptTokens * price.input + usage.completionTokens * price.output) / 1e6;
}
