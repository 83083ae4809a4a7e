// The golden SentencePiece tokenizer folders (../shared/golden/llava_preprocess/tokenizer: tokenizer.model,
// tokenizer_config.json, special_tokens_map.json; no tokenizer.json) and temporary variants of them for tests that
// need another file beside the model. Temporary folders are removed by the test that made them.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GOLDEN_PREPROCESS } from '../helpers/text-golden.js';
import type { TokenizerConfig } from '../../src/text/tokenizer.js';

/** The folder the reference's cases were made with: `legacy: false`, or its `legacy_true/` twin. */
export function goldenTokenizerDir(legacy: boolean): string {
  return join(GOLDEN_PREPROCESS, 'tokenizer', ...(legacy ? ['legacy_true'] : []));
}

export function goldenTokenizerConfig(legacy: boolean): TokenizerConfig {
  return JSON.parse(readFileSync(join(goldenTokenizerDir(legacy), 'tokenizer_config.json'), 'utf8')) as TokenizerConfig;
}

/**
 * Runs `body` on a temporary copy of a golden tokenizer folder with `files` written over it (JSON values are
 * serialised, a Uint8Array is written as is, undefined removes the file), then removes the copy.
 */
export function withTokenizerDir<T>(legacy: boolean, files: Record<string, unknown>, body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'llava-spm-'));
  try {
    for (const name of ['tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json']) {
      copyFileSync(join(goldenTokenizerDir(legacy), name), join(dir, name));
    }
    // The copies are read-only like their sources: replace a file rather than write into it.
    for (const [name, value] of Object.entries(files)) {
      rmSync(join(dir, name), { force: true });
      if (value !== undefined)
        writeFileSync(join(dir, name), value instanceof Uint8Array ? value : JSON.stringify(value));
    }
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
