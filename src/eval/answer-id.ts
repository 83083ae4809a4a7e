// Answer ids in shortuuid's form (22 characters of its 57-letter alphabet, as model_vqa.py writes
// them), drawn from a hash of the run's seed, the model and the question instead of at random, so
// that a rerun or a resumed run writes the same file.

import { createHash } from 'node:crypto';

const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function answerId(seed: number, modelId: string, questionId: unknown): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([seed, modelId, questionId]))
    .digest();
  let n = BigInt(`0x${digest.toString('hex')}`);
  let id = '';
  for (let i = 0; i < 22; i++) {
    id += ALPHABET[Number(n % 57n)];
    n /= 57n;
  }
  return id;
}
