// The judge's prompt, byte for byte as eval_gpt_review_visual.py (LLaVA-Bench COCO) and
// eval_gpt_review_bench.py (In-the-Wild) build it (spec §8.4): the image's context, the question,
// the reference answer as Assistant 1 and the model's as Assistant 2, then the category's rule.
//   COCO:  [Context]\n{captions joined by \n}\n\n{"category: [x1, y1, x2, y2]" lines}\n\n[Question]...
//   Wild:  [Context]\n{caption, or the list joined by \n}\n\n[Question]...
// Box coordinates print as Python prints the list it loaded: read the context with keepFloats so
// that 0.0 keeps its ".0".

import { pythonRepr, type PyValue } from './python-json.js';

export const JUDGE_SYSTEM = 'You are a helpful and precise assistant for checking the quality of the answer.';

export type Bench = 'coco' | 'wild';

export interface Rule {
  role: string;
  prompt: string;
}

/** The rule.json key of a question's category: COCO uses it as is, In-the-Wild prefixes llava_bench_. */
export function ruleCategory(bench: Bench, category: string): string {
  return bench === 'wild' ? `llava_bench_${category}` : category;
}

export function contextText(bench: Bench, context: Record<string, unknown>, where: string): string {
  if (bench === 'wild') {
    const caption = context.caption;
    if (typeof caption === 'string') return caption;
    if (Array.isArray(caption) && caption.every((c) => typeof c === 'string')) return caption.join('\n');
    throw new Error(`${where}: "caption" must be a string or a list of strings`);
  }
  const { captions, instances } = context;
  if (!Array.isArray(captions) || !captions.every((c) => typeof c === 'string'))
    throw new Error(`${where}: "captions" must be a list of strings`);
  if (!Array.isArray(instances)) throw new Error(`${where}: "instances" must be a list of {category, bbox}`);
  const boxes = instances.map((instance: { category?: unknown; bbox?: unknown }, i) => {
    if (typeof instance?.category !== 'string' || !Array.isArray(instance.bbox))
      throw new Error(`${where}: instances[${i}] needs a string "category" and a list "bbox"`);
    return `${instance.category}: ${pythonRepr(instance.bbox as PyValue)}`;
  });
  return `${captions.join('\n')}\n\n${boxes.join('\n')}`;
}

export function judgePrompt(context: string, question: string, answer1: string, answer2: string, rule: Rule): string {
  const { role, prompt } = rule;
  return (
    `[Context]\n${context}\n\n` +
    `[Question]\n${question}\n\n` +
    `[${role} 1]\n${answer1}\n\n[End of ${role} 1]\n\n` +
    `[${role} 2]\n${answer2}\n\n[End of ${role} 2]\n\n` +
    `[System]\n${prompt}\n\n`
  );
}

/** rule.json: {category: {role, prompt}}. */
export function parseRules(value: unknown, source: string): Map<string, Rule> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${source}: expected a JSON object {category: {role, prompt}}`);
  const rules = new Map<string, Rule>();
  for (const [key, rule] of Object.entries(value)) {
    const r = rule as Partial<Rule> | null;
    if (typeof r?.role !== 'string' || typeof r.prompt !== 'string')
      throw new Error(`${source}: "${key}" needs string "role" and "prompt"`);
    rules.set(key, { role: r.role, prompt: r.prompt });
  }
  return rules;
}
