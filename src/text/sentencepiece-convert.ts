// transformers' LlamaConverter (convert_slow_tokenizer.py, v4.40.2) without Python: a LLaMA SentencePiece
// tokenizer.model becomes the tokenizer.json that `LlamaTokenizerFast.from_pretrained` on the same folder would save.
// Vocabulary and scores come from the pieces; the BPE merges are derived the way SentencePieceExtractor derives them;
// the added tokens are the model's <unk>/<s>/</s> plus those tokenizer_config.json, added_tokens.json and
// special_tokens_map.json declare, as PreTrainedTokenizer.from_pretrained collects them.
import { ModelType, PieceType, type SentencePieceModel } from './sentencepiece-model.js';

const SPIECE_UNDERLINE = '\u2581';

/** An entry of tokenizer.json's `added_tokens` (the AddedToken fields). */
export interface AddedTokenEntry {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** A special-token value of tokenizer_config.json / special_tokens_map.json: a string or an AddedToken dict. */
type TokenValue = string | { content: string } | null | undefined;

/** What the converter reads besides the model: the merged tokenizer_config.json / special_tokens_map.json. */
export interface LlamaConvertOptions {
  legacy: boolean;
  addBosToken: boolean;
  addEosToken: boolean;
  /** bos/eos/unk/pad_token and additional_special_tokens, special_tokens_map.json's values over the config's. */
  specialTokens: Record<string, TokenValue | TokenValue[]>;
  /** tokenizer_config.json's `added_tokens_decoder` (id -> AddedToken). */
  addedTokensDecoder?: Record<string, Partial<AddedTokenEntry> & { content: string }>;
  /** added_tokens.json (content -> id), the older way slow tokenizers saved tokens added after training. */
  addedTokensFile?: Record<string, number>;
}

const content = (value: TokenValue): string | undefined =>
  value === null || value === undefined ? undefined : typeof value === 'string' ? value : value.content;

/** Refuses what LlamaConverter would convert but the slow LlamaTokenizer (LLaVA's reference) would tokenize otherwise. */
function checkLlamaLayout(model: SentencePieceModel, source: string): void {
  const { trainerSpec: t, normalizerSpec: n, pieces } = model;
  const refuse = (why: string) => {
    throw new Error(`tokenizer: ${source}: ${why}; only LLaMA-style SentencePiece BPE models can be loaded`);
  };
  if (t.modelType !== ModelType.BPE) refuse(`trainer_spec.model_type is ${t.modelType}, not BPE (2)`);
  if (!t.byteFallback) refuse('trainer_spec.byte_fallback is false');
  if (n.precompiledCharsmapBytes > 0 || n.removeExtraWhitespaces || !n.addDummyPrefix || !n.escapeWhitespaces) {
    refuse(
      `normalizer_spec '${n.name}' rewrites text (precompiled_charsmap ${n.precompiledCharsmapBytes} bytes, ` +
        `remove_extra_whitespaces ${n.removeExtraWhitespaces}, add_dummy_prefix ${n.addDummyPrefix}, ` +
        `escape_whitespaces ${n.escapeWhitespaces}); LLaMA's is identity with a dummy prefix`,
    );
  }
  const layout = [PieceType.UNKNOWN, PieceType.CONTROL, PieceType.CONTROL];
  if (layout.some((type, id) => pieces[id]?.type !== type)) {
    refuse('pieces 0, 1, 2 are not the unknown and two control pieces (<unk>, <s>, </s>)');
  }
  const userDefined = pieces.findIndex((p) => p.type === PieceType.USER_DEFINED);
  if (userDefined >= 0) refuse(`piece ${userDefined} ${JSON.stringify(pieces[userDefined]!.piece)} is USER_DEFINED`);
}

/**
 * SentencePieceExtractor.extract(vocab_scores): every split of every piece into two pieces is a merge, ranked by
 * the whole piece's score (highest first); splits of one piece are ordered by the ids of their halves, and equal
 * scores keep vocabulary order (Python's sort is stable, also with reverse=True; so is Array.prototype.sort).
 */
export function extractMerges(pieces: { piece: string; score: number }[]): [string, string][] {
  const vocab = new Map(pieces.map((p, id) => [p.piece, id]));
  const merges: { left: string; right: string; score: number }[] = [];
  for (const { piece, score } of pieces) {
    // Splits are taken between UTF-16 code units, as Python slices code points: a split inside a surrogate pair
    // yields a lone surrogate, which is never a piece, so both give the same merges.
    const local: { left: string; right: string; score: number; ids: [number, number] }[] = [];
    for (let i = 1; i < piece.length; i++) {
      const left = piece.slice(0, i);
      const right = piece.slice(i);
      const l = vocab.get(left);
      const r = vocab.get(right);
      if (l !== undefined && r !== undefined) local.push({ left, right, score, ids: [l, r] });
    }
    local.sort((a, b) => a.ids[0] - b.ids[0] || a.ids[1] - b.ids[1]);
    merges.push(...local);
  }
  merges.sort((a, b) => b.score - a.score);
  return merges.map((m) => [m.left, m.right]);
}

/** The added tokens, by id: the model's first three pieces, then the files' entries, then missing special tokens. */
function collectAddedTokens(pieces: string[], options: LlamaConvertOptions): AddedTokenEntry[] {
  const vocab = new Map(pieces.map((piece, id) => [piece, id]));
  const specials = new Set(
    Object.values(options.specialTokens)
      .flatMap((v) => (Array.isArray(v) ? v : [v]))
      .map(content)
      .filter((c): c is string => c !== undefined),
  );
  const byContent = new Map<string, AddedTokenEntry>();
  const byId = new Map<number, string>();
  const add = (id: number, token: Partial<AddedTokenEntry> & { content: string }, where: string) => {
    const name = JSON.stringify(token.content);
    if (typeof token.content !== 'string' || !Number.isInteger(id) || id < 0) {
      throw new Error(
        `tokenizer: ${where} has an entry that is not a token and a non-negative integer id: ${name} ${id}`,
      );
    }
    const taken = pieces[id] ?? byId.get(id);
    if (taken !== undefined && taken !== token.content) {
      throw new Error(`tokenizer: ${where} gives id ${id} to ${name}, but it is ${taken}`);
    }
    byId.set(id, token.content);
    const special = token.special ?? specials.has(token.content);
    byContent.set(token.content, {
      id,
      content: token.content,
      single_word: token.single_word ?? false,
      lstrip: token.lstrip ?? false,
      rstrip: token.rstrip ?? false,
      normalized: token.normalized ?? !special,
      special,
    });
  };
  // LlamaConverter: AddedToken(piece 0/1/2, normalized=False, special=True).
  pieces.slice(0, 3).forEach((piece, id) => add(id, { content: piece, special: true, normalized: false }, 'model'));
  for (const [id, token] of Object.entries(options.addedTokensDecoder ?? {})) {
    add(Number(id), token, 'tokenizer_config.json added_tokens_decoder');
  }
  for (const [token, id] of Object.entries(options.addedTokensFile ?? {})) {
    if (!byContent.has(token)) add(id, { content: token }, 'added_tokens.json');
  }
  // Special tokens not added yet keep their vocabulary id, or are appended after every id in use (_add_tokens).
  let nextId = Math.max(vocab.size, ...[...byContent.values()].map((t) => t.id + 1));
  for (const token of specials) {
    const entry = byContent.get(token);
    if (entry !== undefined) entry.special = true;
    else add(vocab.get(token) ?? nextId++, { content: token, special: true, normalized: false }, 'special tokens');
  }
  return [...byContent.values()].sort((a, b) => a.id - b.id);
}

/** The tokenizer.json of LlamaTokenizerFast for `model`, as an object for @huggingface/tokenizers. */
export function convertLlamaSentencePiece(
  model: SentencePieceModel,
  options: LlamaConvertOptions,
  source: string,
): Record<string, unknown> {
  checkLlamaLayout(model, source);
  // LlamaConverter.vocab: pieces 0..2 with score 0, the rest as the model has them.
  const pieces = model.pieces.map((p, id) => ({ piece: p.piece, score: id < 3 ? 0 : p.score }));
  const vocab = new Map(pieces.map((p, id) => [p.piece, id]));
  if (vocab.size !== pieces.length) throw new Error(`tokenizer: ${source} has duplicate pieces`);
  const addedTokens = collectAddedTokens(
    pieces.map((p) => p.piece),
    options,
  );
  const bos = pieces[1]!.piece;
  const eos = pieces[2]!.piece;
  const used = [
    ...(options.addBosToken ? [[bos, 1] as const] : []),
    ...(options.addEosToken ? [[eos, 2] as const] : []),
  ];
  // LlamaTokenizerFast.update_post_processor: "<s>:0 $A:0 </s>:0", each special only when it is added.
  const template = (seq: 'A' | 'B', typeId: number) => [
    ...(options.addBosToken ? [{ SpecialToken: { id: bos, type_id: typeId } }] : []),
    { Sequence: { id: seq, type_id: typeId } },
    ...(options.addEosToken ? [{ SpecialToken: { id: eos, type_id: typeId } }] : []),
  ];
  const replaceSpaces = { type: 'Replace', pattern: { String: ' ' }, content: SPIECE_UNDERLINE };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    // legacy: every text segment (also after an added token) gets the dummy prefix; non-legacy: only the first.
    normalizer: options.legacy
      ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPIECE_UNDERLINE }, replaceSpaces] }
      : null,
    pre_tokenizer: options.legacy
      ? null
      : { type: 'Metaspace', replacement: SPIECE_UNDERLINE, prepend_scheme: 'first', split: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: template('A', 0),
      pair: [...template('A', 0), ...template('B', 1)],
      special_tokens: Object.fromEntries(used.map(([token, id]) => [token, { id: token, ids: [id], tokens: [token] }])),
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPIECE_UNDERLINE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: model.trainerSpec.unkPiece,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: extractMerges(pieces),
    },
  };
}
