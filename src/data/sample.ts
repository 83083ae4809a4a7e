// One LLaVA instruction sample (spec §1.1, §1.3): {id, image?, conversations: [{from, value}]}, checked on read so a
// bad record is reported with where it is and what is wrong, before training ever reaches it.
import { countImageTokens } from '../text/image-token.js';
import type { Turn } from '../text/image-placement.js';

export interface Sample {
  id: string;
  /** Path relative to the image folder; absent for text-only samples. */
  image?: string;
  conversations: Turn[];
}

export class SampleError extends Error {
  constructor(
    readonly where: string,
    reason: string,
  ) {
    super(`${where}: ${reason}`);
    this.name = 'SampleError';
  }
}

/** Validates a parsed record. `where` names it in errors (file, line, id). */
export function parseSample(value: unknown, where: string): Sample {
  const fail = (reason: string) => new SampleError(where, reason);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('a sample must be a JSON object');
  const record = value as Record<string, unknown>;
  const id = record.id === undefined ? '' : record.id;
  if (typeof id !== 'string' && typeof id !== 'number') throw fail(`"id" must be a string or number, got ${typeof id}`);
  const conversations = record.conversations;
  if (!Array.isArray(conversations) || conversations.length === 0)
    throw fail('"conversations" must be a non-empty list of {from, value}');
  const turns = conversations.map((turn: unknown, j) => {
    const t = turn as Record<string, unknown> | null;
    if (typeof t !== 'object' || t === null || typeof t.from !== 'string' || typeof t.value !== 'string') {
      throw fail(`conversations[${j}] must be {"from": string, "value": string}`);
    }
    if (t.from !== 'human' && t.from !== 'gpt')
      throw fail(`conversations[${j}].from is '${t.from}', expected 'human' or 'gpt'`);
    return { from: t.from, value: t.value };
  });
  const sample: Sample = { id: String(id), conversations: turns };
  if (record.image !== undefined) {
    if (Array.isArray(record.image))
      throw fail('"image" is a list: training takes one image per sample, as the reference does');
    if (typeof record.image !== 'string' || record.image.length === 0)
      throw fail('"image" must be a non-empty path string');
    sample.image = record.image;
  }
  checkImageTags(sample, fail);
  return sample;
}

/** One `<image>` per image: an image with no tag, a tag with no image, or more tags than images would misalign. */
function checkImageTags(sample: Sample, fail: (reason: string) => SampleError): void {
  const tags = sample.conversations.reduce((n, t) => n + countImageTokens(t.value), 0);
  const images = sample.image === undefined ? 0 : 1;
  if (images === 1 && tags === 0) throw fail('has an "image" but no <image> tag in its conversations');
  if (images === 0 && tags > 0) throw fail(`has ${tags} <image> tag(s) but no "image"`);
  if (tags > images) throw fail(`has ${tags} <image> tags for ${images} image`);
}

/**
 * The sampler's length (llava `modality_lengths`): whitespace word count of all turns, positive for image samples and
 * negative for text-only ones. A sample with no words counts as one, since zero has no modality sign.
 */
export function modalityLength(sample: Sample): number {
  const words = sample.conversations.reduce((n, t) => n + t.value.split(/\s+/u).filter((w) => w !== '').length, 0);
  const length = Math.max(words, 1);
  return sample.image === undefined ? -length : length;
}
