// Rebuilds LLaMA's tokenizer.json from the vocabulary and merges packed in llama-tokenizer-js (its
// data-conversion.py took them from LLaMA's tokenizer.json: vocab in id order, merges in priority order).
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
