// A checkpoint's tokenizer, loaded through @huggingface/tokenizers and encoding exactly like the tokenizer the reference
// trains with. The folder holds tokenizer.json, or (original LLaVA and Vicuna checkpoints) only SentencePiece's
// tokenizer.model, which is converted in memory into the tokenizer.json transformers would build from it
// (sentencepiece-convert.ts), so both go through one code path. tokenizer_config.json and special_tokens_map.json
// sit beside either.
//
// LLaVA loads LLaMA/Vicuna tokenizers with `use_fast=False`, i.e. transformers' SentencePiece LlamaTokenizer, and its
// label masking depends on that tokenizer's `legacy` flag (spec §4.3). The fast tokenizer.json pipeline differs from
// it on text that follows a special token or starts with a space, so for SentencePiece-BPE vocabularies (byte
// fallback, `▁` word marker) the library supplies the vocabulary, merges and BPE model while this file reproduces the
// slow tokenizer's splitting and dummy-prefix rules. Other vocabularies (e.g. MPT's byte-level BPE, which the
// reference loads fast) go through the library's own pipeline.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { renderChatTemplate, type ChatMessage } from './chat-template.js';
import { convertLlamaSentencePiece, type LlamaConvertOptions } from './sentencepiece-convert.js';
import { parseSentencePieceModel } from './sentencepiece-model.js';

const SPIECE_UNDERLINE = '\u2581';

/** A special token as tokenizer_config.json / special_tokens_map.json write it: a string or an AddedToken dict. */
type SpecialTokenValue = string | { content: string } | null | undefined;

export interface TokenizerConfig {
  legacy?: boolean;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  model_max_length?: number;
  bos_token?: SpecialTokenValue;
  eos_token?: SpecialTokenValue;
  unk_token?: SpecialTokenValue;
  pad_token?: SpecialTokenValue;
  chat_template?: string | { name: string; template: string }[];
  added_tokens_decoder?: LlamaConvertOptions['addedTokensDecoder'];
  [key: string]: unknown;
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}
interface TokenizerJson {
  model: { type: string; byte_fallback?: boolean; vocab: Record<string, number> | unknown };
  added_tokens?: AddedTokenJson[];
  [key: string]: unknown;
}

export interface EncodeOptions {
  /** Add BOS/EOS as the checkpoint configures (`add_bos_token`, `add_eos_token`); default true, as `tokenizer(text)`. */
  addSpecialTokens?: boolean;
  /** Keep at most this many ids (transformers' `truncation=True, max_length`), counting BOS/EOS. */
  maxLength?: number;
}

function tokenContent(value: SpecialTokenValue): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? value : value.content;
}

/** transformers' SPECIAL_TOKENS_ATTRIBUTES. */
const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
  'additional_special_tokens',
] as const;
type SpecialTokens = Partial<Record<(typeof SPECIAL_TOKEN_KEYS)[number], unknown>>;

/**
 * The special tokens as PreTrainedTokenizerBase._from_pretrained settles them: tokenizer_config.json's values, which
 * special_tokens_map.json overrides key by key only when the config predates `added_tokens_decoder`
 * (transformers < 4.34 wrote such configs); its additional_special_tokens are then appended to the config's.
 */
function resolveSpecialTokens(config: TokenizerConfig, specialTokensMap: TokenizerConfig): SpecialTokens {
  const resolved: SpecialTokens = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    if (config.added_tokens_decoder !== undefined || !(key in specialTokensMap)) resolved[key] = config[key];
    else if (key !== 'additional_special_tokens') resolved[key] = specialTokensMap[key];
    else {
      const fromConfig = (config[key] as unknown[] | undefined) ?? [];
      const fromMap = specialTokensMap[key] as unknown[];
      const have = new Set(fromConfig.map((t) => tokenContent(t as SpecialTokenValue)));
      resolved[key] = [...fromConfig, ...fromMap.filter((t) => !have.has(tokenContent(t as SpecialTokenValue)))];
    }
  }
  return resolved;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`tokenizer: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export class TextTokenizer {
  private readonly lib: Tokenizer;
  /** Longest-first alternation of every added token: the slow tokenizer splits on all of them before SentencePiece. */
  private readonly addedTokenPattern: RegExp | null;
  private readonly addedTokenIds = new Map<string, number>();
  private readonly specialTokens = new Set<string>();
  private readonly sentencePiece: boolean;
  /** The library's BPE model: `▁`-normalised text in, vocabulary pieces out. */
  private readonly bpe: (pieces: string[]) => string[];
  readonly legacy: boolean;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly modelMaxLength: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly unkId: number | undefined;
  readonly padId: number | undefined;
  readonly chatTemplate: string | undefined;
  private readonly specialTokenStrings: Record<string, string | undefined>;

  /** Loads a checkpoint folder: tokenizer.json if it has one, else SentencePiece's tokenizer.model. */
  static fromDir(dir: string): TextTokenizer {
    const configPath = join(dir, 'tokenizer_config.json');
    const mapPath = join(dir, 'special_tokens_map.json');
    const config = existsSync(configPath) ? (readJson(configPath) as TokenizerConfig) : {};
    const specialTokensMap = existsSync(mapPath) ? (readJson(mapPath) as TokenizerConfig) : {};
    // Newer llava-hf checkpoints keep the chat template beside the tokenizer in chat_template.json.
    const chatPath = join(dir, 'chat_template.json');
    if (config.chat_template === undefined && existsSync(chatPath)) {
      config.chat_template = (readJson(chatPath) as { chat_template?: string }).chat_template;
    }
    const jsonPath = join(dir, 'tokenizer.json');
    const modelPath = join(dir, 'tokenizer.model');
    let tokenizerJson: TokenizerJson;
    if (existsSync(jsonPath)) {
      tokenizerJson = readJson(jsonPath) as TokenizerJson;
    } else if (existsSync(modelPath)) {
      // Like special_tokens_map.json, added_tokens.json only counts beside a config without added_tokens_decoder.
      const addedPath = join(dir, 'added_tokens.json');
      const addedTokensFile =
        config.added_tokens_decoder === undefined && existsSync(addedPath)
          ? (readJson(addedPath) as Record<string, number>)
          : undefined;
      tokenizerJson = TextTokenizer.convertSentencePiece(modelPath, config, specialTokensMap, addedTokensFile);
    } else {
      throw new Error(`tokenizer: ${dir} has neither tokenizer.json nor SentencePiece's tokenizer.model`);
    }
    return new TextTokenizer(tokenizerJson, config, specialTokensMap);
  }

  /** tokenizer.model -> the tokenizer.json LlamaTokenizerFast would build from it with this folder's config. */
  private static convertSentencePiece(
    modelPath: string,
    config: TokenizerConfig,
    specialTokensMap: TokenizerConfig,
    addedTokensFile: Record<string, number> | undefined,
  ): TokenizerJson {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(modelPath);
    } catch (err) {
      throw new Error(`tokenizer: cannot read ${modelPath}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const options: LlamaConvertOptions = {
      // LlamaTokenizer's defaults: legacy true (with a warning), BOS added, EOS not.
      legacy: config.legacy ?? true,
      addBosToken: config.add_bos_token ?? true,
      addEosToken: config.add_eos_token ?? false,
      specialTokens: resolveSpecialTokens(config, specialTokensMap) as LlamaConvertOptions['specialTokens'],
      addedTokensDecoder: config.added_tokens_decoder,
      addedTokensFile,
    };
    return convertLlamaSentencePiece(parseSentencePieceModel(bytes, modelPath), options, modelPath) as TokenizerJson;
  }

  constructor(tokenizerJson: TokenizerJson, config: TokenizerConfig = {}, specialTokensMap: TokenizerConfig = {}) {
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null || typeof tokenizerJson.model !== 'object') {
      throw new Error('tokenizer: tokenizer.json has no "model" section');
    }
    this.lib = new Tokenizer(tokenizerJson, config);
    const model = this.lib.model;
    if (model === null)
      throw new Error(`tokenizer: unsupported model type '${tokenizerJson.model.type}' in tokenizer.json`);
    this.bpe = (pieces) => model(pieces);
    for (const t of tokenizerJson.added_tokens ?? []) {
      this.addedTokenIds.set(t.content, t.id);
      if (t.special) this.specialTokens.add(t.content);
    }
    const contents = [...this.addedTokenIds.keys()].sort((a, b) => b.length - a.length);
    this.addedTokenPattern = contents.length
      ? new RegExp(`(${contents.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`, 'u')
      : null;
    this.sentencePiece = tokenizerJson.model.type === 'BPE' && tokenizerJson.model.byte_fallback === true;
    // transformers' LlamaTokenizer treats a missing `legacy` as true (and warns); so do we.
    this.legacy = config.legacy ?? true;
    this.addBos = config.add_bos_token ?? this.sentencePiece;
    this.addEos = config.add_eos_token ?? false;
    const maxLen = config.model_max_length;
    this.modelMaxLength = typeof maxLen === 'number' && maxLen < 1e12 ? maxLen : Number.MAX_SAFE_INTEGER;
    const specialTokens = resolveSpecialTokens(config, specialTokensMap);
    const pick = (key: 'bos_token' | 'eos_token' | 'unk_token' | 'pad_token') =>
      tokenContent(specialTokens[key] as SpecialTokenValue);
    this.specialTokenStrings = {
      bos_token: pick('bos_token'),
      eos_token: pick('eos_token'),
      unk_token: pick('unk_token'),
      pad_token: pick('pad_token'),
    };
    const idOf = (s: string | undefined) => (s === undefined ? undefined : this.tokenToId(s));
    this.bosId = idOf(this.specialTokenStrings.bos_token);
    this.eosId = idOf(this.specialTokenStrings.eos_token);
    this.unkId = idOf(this.specialTokenStrings.unk_token);
    this.padId = idOf(this.specialTokenStrings.pad_token);
    const ct = config.chat_template;
    this.chatTemplate = Array.isArray(ct) ? ct.find((t) => t.name === 'default')?.template : ct;
  }

  get vocabSize(): number {
    return this.lib.get_vocab(true).size;
  }

  tokenToId(token: string): number | undefined {
    return this.addedTokenIds.get(token) ?? this.lib.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.lib.id_to_token(id);
  }

  /** `tokenizer(text).input_ids` of the reference. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecial = options.addSpecialTokens ?? true;
    let ids: number[];
    if (this.sentencePiece) {
      ids = this.tokenizeSentencePiece(text).map((t) => this.pieceId(t));
      if (addSpecial && this.addBos) ids.unshift(this.requireId(this.bosId, 'bos_token'));
      if (addSpecial && this.addEos) ids.push(this.requireId(this.eosId, 'eos_token'));
    } else {
      ids = this.lib.encode(text, { add_special_tokens: addSpecial }).ids;
    }
    if (options.maxLength !== undefined && ids.length > options.maxLength) ids = ids.slice(0, options.maxLength);
    return ids;
  }

  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const list = Array.from(ids);
    if (list.length === 0) return '';
    return this.lib.decode(list, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** Renders the checkpoint's chat template (llava-hf) with the special tokens transformers passes it. */
  applyChatTemplate(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    if (this.chatTemplate === undefined) {
      throw new Error(
        'tokenizer: this checkpoint has no chat_template (tokenizer_config.json or chat_template.json); use a conversation template',
      );
    }
    return renderChatTemplate(this.chatTemplate, messages, {
      addGenerationPrompt: options.addGenerationPrompt ?? false,
      specialTokens: this.specialTokenStrings,
    });
  }

  /**
   * transformers' LlamaTokenizer.tokenize. Added tokens are split out first. legacy: every text piece gets
   * SentencePiece's dummy prefix `▁`. Non-legacy: only the start of the whole text gets it (text after a special
   * token does not), and a lone leading `▁` before a special token is dropped.
   */
  private tokenizeSentencePiece(text: string): string[] {
    if (text.length === 0) return [];
    const source = this.legacy ? text : SPIECE_UNDERLINE + text.replaceAll(SPIECE_UNDERLINE, ' ');
    const pieces = this.addedTokenPattern ? source.split(this.addedTokenPattern) : [source];
    const tokens: string[] = [];
    // split() with a capture group alternates text, token, text, ...: odd indices are added tokens.
    pieces.forEach((piece, i) => {
      if (i % 2 === 1) tokens.push(piece);
      else if (piece.length > 0) {
        const normalized = (this.legacy ? SPIECE_UNDERLINE : '') + piece.replaceAll(' ', SPIECE_UNDERLINE);
        tokens.push(...this.bpe([normalized]));
      }
    });
    if (!this.legacy && tokens.length > 1 && tokens[0] === SPIECE_UNDERLINE && this.specialTokens.has(tokens[1]!)) {
      tokens.shift();
    }
    return tokens;
  }

  private pieceId(piece: string): number {
    const id = this.tokenToId(piece);
    if (id === undefined)
      throw new Error(`tokenizer: BPE produced piece ${JSON.stringify(piece)} that is not in the vocabulary`);
    return id;
  }

  private requireId(id: number | undefined, name: string): number {
    if (id === undefined)
      throw new Error(`tokenizer: ${name} is not set in tokenizer_config.json / special_tokens_map.json`);
    return id;
  }
}
