// Stage 0's tokenizer: a LLaMA-style Hugging Face tokenizer folder learnt from the demo world's text, since no Vicuna
// tokenizer can be downloaded. It has LLaMA's layout (<unk>=0, <s>=1, </s>=2, the 256 <0xXX> byte pieces for byte
// fallback, `▁` for spaces with a dummy prefix, legacy false) and BPE merges learnt SentencePiece-style: text is cut
// into units (an optional `▁` and one run of letters, one digit or one other character), merges never cross a
// unit, and merging goes on until every unit seen at least minFrequency times is one token, so the world's common
// words (`▁red`, `▁circle`) are single tokens.
//
// LLaVA's preprocess_v1 relies on one property of LLaMA's vocabulary (spec §4.3): after `</s>` a non-legacy
// tokenizer writes the user role without the dummy `▁` and the reference subtracts one token per later round,
// which is right because LLaMA encodes `USER` as one token and `▁USER` as two (`▁US`, `ER`). Here each bare word
// (default the v1 templates' user role) is one token and no merge joins `▁` to a symbol that starts it, so `▁USER`
// is `▁` + `USER`: the same count, and the label masks come out without a tokenization mismatch.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sentencePieceModel } from './sentencepiece-writer.js';

const SPIECE = '\u2581';
const SPECIALS = ['<unk>', '<s>', '</s>'] as const;
// A unit: `▁`? then a letter run, a digit or one other non-space character; or a lone `▁`. Other whitespace
// (newlines, tabs) is left to byte fallback, as LLaMA does.
const UNIT = /\u2581?(?:\p{L}+|\p{N}|[^\s\p{L}\p{N}\u2581])|\u2581/gu;

export type TokenizerOptions = {
  /** Units seen fewer times stay split into smaller pieces (default 2). */
  minFrequency?: number;
  /** At most this many tokens in all, the 259 special and byte pieces included (default 4000). */
  maxVocabSize?: number;
  /** Words that follow `</s>` without a space in LLaVA's prompts (default the v1 user role, ['USER']). */
  bareWords?: string[];
  /** tokenizer_config.json's model_max_length (default 2048, as Vicuna's). */
  modelMaxLength?: number;
  /**
   * Special tokens added after the learnt vocabulary, as transformers' add_special_tokens adds them (in
   * tokenizer.json's added_tokens and tokenizer_config's added_tokens_decoder, not in the BPE model): e.g. llava-hf's
   * `<image>`, which must be one id inside the LLM's vocabulary.
   */
  specialTokens?: string[];
};

export type BuiltTokenizer = { vocabSize: number; merges: number };

/**
 * Learns the vocabulary and merges from `texts` and writes tokenizer.json, its SentencePiece twin tokenizer.model,
 * tokenizer_config.json and special_tokens_map.json into `dir`.
 */
export function buildTokenizer(texts: string[], dir: string, options: TokenizerOptions = {}): BuiltTokenizer {
  const bareWords = options.bareWords ?? ['USER'];
  const counts = countUnits(texts, new Set(bareWords));
  for (const w of bareWords) counts.set(w, Infinity);
  const { alphabet, merges } = learnMerges(counts, {
    minFrequency: options.minFrequency ?? 2,
    budget: (options.maxVocabSize ?? 4000) - 3 - 256,
    forbidden: (left, right) => left === SPIECE && bareWords.some((w) => right[0] === w[0]),
  });
  const vocab: Record<string, number> = {};
  const pieces: string[] = []; // by id (the vocab object lists integer-like keys such as '3' first)
  const add = (piece: string) => {
    if (vocab[piece] === undefined) vocab[piece] = pieces.push(piece) - 1;
  };
  SPECIALS.forEach(add);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  alphabet.forEach(add);
  for (const [l, r] of merges) add(l + r);
  mkdirSync(dir, { recursive: true });
  const write = (name: string, json: unknown) => writeFileSync(join(dir, name), JSON.stringify(json, null, 2) + '\n');
  const added = [...SPECIALS, ...(options.specialTokens ?? [])].map((content, i) => ({
    id: i < SPECIALS.length ? i : pieces.length + i - SPECIALS.length,
    content,
  }));
  write('tokenizer.json', tokenizerJson(vocab, merges, added));
  writeFileSync(join(dir, 'tokenizer.model'), sentencePieceModel(pieces, alphabet.length));
  write('tokenizer_config.json', tokenizerConfig(options.modelMaxLength ?? 2048, added));
  write('special_tokens_map.json', {
    bos_token: specialToken('<s>'),
    eos_token: specialToken('</s>'),
    pad_token: '<unk>', // LLaVA v1 pads with unk (spec §4.1)
    unk_token: specialToken('<unk>'),
  });
  return { vocabSize: pieces.length + added.length - SPECIALS.length, merges: merges.length };
}

/**
 * Unit counts over the texts as the non-legacy tokenizer segments them: spaces become `▁`, the text gets one
 * dummy `▁`, special tokens split it and the text after one has no prefix. A bare word's `▁` is counted apart.
 */
function countUnits(texts: string[], bareWords: Set<string>): Map<string, number> {
  const counts = new Map<string, number>();
  const bump = (u: string) => counts.set(u, (counts.get(u) ?? 0) + 1);
  for (const text of texts) {
    const source = SPIECE + text.replaceAll(' ', SPIECE);
    for (const piece of source.split(/<unk>|<s>|<\/s>/)) {
      for (const [unit] of piece.matchAll(UNIT)) {
        if (unit.length > 1 && unit[0] === SPIECE && bareWords.has(unit.slice(1))) {
          bump(SPIECE);
          bump(unit.slice(1));
        } else bump(unit);
      }
    }
  }
  return counts;
}

/** Byte-pair merges over the units, most frequent pair first (ties by the pair's text), as BPE training. */
function learnMerges(
  counts: Map<string, number>,
  o: { minFrequency: number; budget: number; forbidden: (left: string, right: string) => boolean },
): { alphabet: string[]; merges: [string, string][] } {
  const charCounts = new Map<string, number>([[SPIECE, Infinity]]);
  for (const [unit, n] of counts)
    for (const c of unit) charCounts.set(c, (charCounts.get(c) ?? 0) + (c === SPIECE ? 0 : n));
  const alphabet = [...charCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([c]) => c);
  const words = [...counts]
    .filter(([, n]) => n >= o.minFrequency)
    .map(([unit, n]) => ({ symbols: [...unit], n: Math.min(n, Number.MAX_SAFE_INTEGER) }));
  const merges: [string, string][] = [];
  while (alphabet.length + merges.length < o.budget) {
    const pairs = new Map<string, { left: string; right: string; n: number }>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const left = w.symbols[i]!;
        const right = w.symbols[i + 1]!;
        if (o.forbidden(left, right)) continue;
        const key = `${left}\u0000${right}`;
        const p = pairs.get(key) ?? pairs.set(key, { left, right, n: 0 }).get(key)!;
        p.n += w.n;
      }
    }
    let best: { left: string; right: string; n: number } | undefined;
    for (const p of pairs.values()) {
      if (!best || p.n > best.n || (p.n === best.n && p.left + '\u0000' + p.right < best.left + '\u0000' + best.right))
        best = p;
    }
    if (!best) break;
    merges.push([best.left, best.right]);
    const merged = best.left + best.right;
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === best.left && w.symbols[i + 1] === best.right) {
          out.push(merged);
          i++;
        } else out.push(w.symbols[i]!);
      }
      w.symbols = out;
    }
  }
  return { alphabet, merges };
}

function specialToken(content: string) {
  return { content, lstrip: false, normalized: false, rstrip: false, single_word: false };
}

/** The tokenizer.json LlamaTokenizerFast (legacy false) has: Metaspace with a first-only prefix, BOS added, byte fallback. */
type AddedToken = { id: number; content: string };

function tokenizerJson(vocab: Record<string, number>, merges: [string, string][], added: AddedToken[]) {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.map(({ id, content }) => ({ id, ...specialToken(content), special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: SPIECE, prepend_scheme: 'first', split: false },
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
        { type: 'Replace', pattern: { String: SPIECE }, content: ' ' },
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
      // "left right" strings (no piece holds a space): the form tokenizers < 0.20, which transformers 4.40 pins, reads.
      merges: merges.map(([l, r]) => `${l} ${r}`),
    },
  };
}

function tokenizerConfig(modelMaxLength: number, added: AddedToken[]) {
  return {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: Object.fromEntries(
      added.map(({ id, content }) => [String(id), { ...specialToken(content), special: true }]),
    ),
    bos_token: '<s>',
    clean_up_tokenization_spaces: false,
    eos_token: '</s>',
    legacy: false,
    model_max_length: modelMaxLength,
    pad_token: '<unk>',
    padding_side: 'right',
    sp_model_kwargs: {},
    tokenizer_class: 'LlamaTokenizerFast',
    unk_token: '<unk>',
    use_default_system_prompt: false,
  };
}
