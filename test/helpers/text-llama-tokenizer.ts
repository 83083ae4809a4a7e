// Rebuilds LLaMA's tokenizer.json from the vocabulary and merges packed in llama-tokenizer-js (its
// data-conversion.py took them from LLaMA's tokenizer.json: vocab in id order, merges in priority order) and writes
// a checkpoint-style tokenizer folder (tokenizer.json, tokenizer_config.json, special_tokens_map.json) to a temp dir.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaTokenizer } from 'llama-tokenizer-js';

let packed: LlamaTokenizer | undefined;

/** llama-tokenizer-js's own BPE port: an independent check of our encoding. */
export function llamaTokenizerJs(): LlamaTokenizer {
  packed ??= new LlamaTokenizer();
  return packed;
}

export function llamaTokenizerJson(): object {
  const lt = llamaTokenizerJs();
  const vocab: Record<string, number> = {};
  lt.vocabById.forEach((piece, id) => {
    vocab[piece] = id;
  });
  // lt.merges maps "left right" to its priority (lower merges first).
  const merges = [...lt.merges.entries()].sort((a, b) => a[1] - b[1]).map(([pair]) => pair);
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '\u2581' },
        { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges,
    },
  };
}

/** A Vicuna-v1.5-like tokenizer folder (add_bos, no eos, model_max_length 2048) with the given legacy flag. */
export function writeLlamaTokenizerDir(legacy: boolean, extraConfig: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'llava-tok-'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(llamaTokenizerJson()));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      add_bos_token: true,
      add_eos_token: false,
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      pad_token: null,
      legacy,
      model_max_length: 2048,
      padding_side: 'right',
      tokenizer_class: 'LlamaTokenizer',
      ...extraConfig,
    }),
  );
  writeFileSync(
    join(dir, 'special_tokens_map.json'),
    JSON.stringify({
      bos_token: { content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
      eos_token: { content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
      unk_token: { content: '<unk>', lstrip: false, normalized: false, rstrip: false, single_word: false },
    }),
  );
  return dir;
}
