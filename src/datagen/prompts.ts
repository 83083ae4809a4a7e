// The three prompt types of GPT-assisted instruction data (paper §3, spec §2.1), each a folder in
// the reference layout: system_message.txt, then few-shot pairs NNN_caps.txt (user input) and
// NNN_conv.txt (assistant output). Files are read byte-exact: no trimming, no newline fixes.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderContext, type ImageContext } from './context.js';

export const PROMPT_TYPES = ['conversation', 'detail_description', 'complex_reasoning'] as const;
export type PromptType = (typeof PROMPT_TYPES)[number];

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface PromptSet {
  type: PromptType;
  system: string;
  examples: { caps: string; conv: string }[];
}

/**
 * The project's own prompts, in the reference layout. They live in the source tree
 * (src/datagen/prompts) because tsc copies no text files; from dist/src/datagen this resolves there.
 */
export const DEFAULT_PROMPTS_DIR = fileURLToPath(new URL('../../../src/datagen/prompts/', import.meta.url));

export function isPromptType(value: string): value is PromptType {
  return (PROMPT_TYPES as readonly string[]).includes(value);
}

/** Only the conversation type works from captions alone (its few-shot inputs have no boxes). */
export function usesBoxes(type: PromptType): boolean {
  return type !== 'conversation';
}

/** Loads `<root>/<type>/`; every caps file needs its conv file and vice versa. */
export async function loadPromptSet(root: string, type: PromptType): Promise<PromptSet> {
  const dir = join(root, type);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new Error(
      `prompts: cannot read folder ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  if (!names.includes('system_message.txt')) throw new Error(`prompts: ${dir} has no system_message.txt`);
  const shots = new Map<string, { caps?: string; conv?: string }>();
  for (const name of names) {
    const m = /^(\d+)_(caps|conv)\.txt$/.exec(name);
    if (!m) continue;
    const [, index, kind] = m as unknown as [string, string, 'caps' | 'conv'];
    const shot = shots.get(index) ?? {};
    shot[kind] = name;
    shots.set(index, shot);
  }
  const examples: PromptSet['examples'] = [];
  for (const index of [...shots.keys()].sort((a, b) => Number(a) - Number(b))) {
    const shot = shots.get(index)!;
    if (!shot.caps || !shot.conv)
      throw new Error(
        `prompts: ${dir} has ${shot.caps ?? shot.conv} without its ${shot.caps ? `${index}_conv.txt` : `${index}_caps.txt`}`,
      );
    examples.push({
      caps: await readFile(join(dir, shot.caps), 'utf8'),
      conv: await readFile(join(dir, shot.conv), 'utf8'),
    });
  }
  return { type, system: await readFile(join(dir, 'system_message.txt'), 'utf8'), examples };
}

/**
 * The request messages (paper appendix): the system message, each few-shot pair as a user turn
 * (caps) and an assistant turn (conv), then the query image's context as the last user turn.
 */
export function buildMessages(prompts: PromptSet, context: ImageContext): ChatMessage[] {
  return [
    { role: 'system', content: prompts.system },
    ...prompts.examples.flatMap(({ caps, conv }): ChatMessage[] => [
      { role: 'user', content: caps },
      { role: 'assistant', content: conv },
    ]),
    { role: 'user', content: renderContext(context, usesBoxes(prompts.type)) },
  ];
}
