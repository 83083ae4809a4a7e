// LlavaProcessor, the shape of transformers' (and its image-text-to-text pipeline): a checkpoint folder's tokenizer,
// image processor and prompt format in one object, turning messages or prompt text plus images into model inputs.
//
// Two conventions, as the checkpoint says: llava-hf folders (a chat template, `<image>` a token of the vocabulary
// with id config.image_token_index) get each placeholder expanded to image_seq_length ids, as processors of
// transformers 4.47+ do; original LLaVA folders (no chat template) get the reference's `tokenizer_image_token` with
// the -200 sentinel, one per image, and LLaVA-1.5's `image_aspect_ratio: "pad"` from config.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { llavaConfig } from '../models/config.js';
import { readConfig } from '../models/config-file.js';
import type { LlavaForConditionalGeneration } from '../models/llava.js';
import { stack, tensor, Tensor } from '../torch/index.js';
import type { ChatMessage } from '../text/chat-template.js';
import { countImageTokens, IMAGE_TOKEN_INDEX, tokenizerImageToken } from '../text/image-token.js';
import { TextTokenizer } from '../text/tokenizer.js';
import { ClipImageProcessor, type AspectRatio } from '../vision/clip-processor.js';
import type { DecodeOptions } from '../vision/decode.js';
import { answer, answerStream, type AnswerOptions } from './answer.js';
import { loadImage, type ImageInput } from './image-input.js';
import { choosePromptFormat, renderMessages, stopStrings, type PromptFormat } from './prompt-format.js';

export interface ProcessorOptions {
  /** A conversation template name (the reference's --conv-mode); default: the chat template, else chosen by name. */
  conversationTemplate?: string;
  /** Where preprocessor_config.json is when the folder has none (original LLaVA: the CLIP tower's folder). */
  visionTower?: string;
  /** Refuse decoded images with more pixels than this. */
  maxPixels?: number;
}

/** One prompt's messages, or a batch of them; or prompt text (with `<image>` placeholders), or a batch of texts. */
export type ProcessorInput = ({ messages: ChatMessage[] | ChatMessage[][] } | { text: string | string[] }) & {
  /** The images of every prompt, in order of their placeholders. */
  images?: ImageInput[];
};

export interface ModelInputs {
  inputIds: Tensor; // [B, L] int64, left-padded
  attentionMask: Tensor; // [B, L] int64, 0 on padding
  pixelValues?: Tensor; // [N, 3, S, S] float32
}

export class LlavaProcessor {
  static fromPretrained(dir: string, options: ProcessorOptions = {}): LlavaProcessor {
    const config = readConfig(dir);
    const original = 'mm_vision_tower' in config;
    const preprocessorPath = [dir, options.visionTower]
      .filter((d): d is string => d !== undefined)
      .map((d) => join(d, 'preprocessor_config.json'))
      .find((p) => existsSync(p));
    if (preprocessorPath === undefined)
      throw new Error(
        `${dir}: no preprocessor_config.json; pass visionTower: '<folder of the CLIP checkpoint>' for the original LLaVA layout`,
      );
    const tokenizer = TextTokenizer.fromDir(dir);
    const processorConfigPath = join(dir, 'processor_config.json');
    const processorConfig = existsSync(processorConfigPath)
      ? (JSON.parse(readFileSync(processorConfigPath, 'utf8')) as { image_seq_length?: number })
      : {};
    // Older llava-hf configs lack image_seq_length: the tower's patches (+ CLS for the 'full' strategy), as the model.
    const imageSeqLength = () =>
      processorConfig.image_seq_length ?? (config.image_seq_length as number | undefined) ?? imageTokens(config);
    return new LlavaProcessor({
      tokenizer,
      imageProcessor: ClipImageProcessor.fromFile(preprocessorPath),
      format: choosePromptFormat(tokenizer, dir, options.conversationTemplate),
      imageTokenId: original ? IMAGE_TOKEN_INDEX : ((config.image_token_index as number | undefined) ?? 32000),
      tokensPerImage: original ? 1 : imageSeqLength(),
      aspectRatio: config.image_aspect_ratio === 'pad' ? 'pad' : 'square',
      padTokenId: tokenizer.padId ?? (config.pad_token_id as number | undefined) ?? 0,
      decodeOptions: { maxPixels: options.maxPixels },
    });
  }

  readonly tokenizer: TextTokenizer;
  readonly imageProcessor: ClipImageProcessor;
  readonly format: PromptFormat;
  readonly imageTokenId: number;
  readonly tokensPerImage: number;
  readonly aspectRatio: AspectRatio;
  readonly padTokenId: number;
  readonly decodeOptions: DecodeOptions;

  constructor(parts: {
    tokenizer: TextTokenizer;
    imageProcessor: ClipImageProcessor;
    format: PromptFormat;
    imageTokenId: number;
    tokensPerImage: number;
    aspectRatio: AspectRatio;
    padTokenId: number;
    decodeOptions?: DecodeOptions;
  }) {
    this.tokenizer = parts.tokenizer;
    this.imageProcessor = parts.imageProcessor;
    this.format = parts.format;
    this.imageTokenId = parts.imageTokenId;
    this.tokensPerImage = parts.tokensPerImage;
    this.aspectRatio = parts.aspectRatio;
    this.padTokenId = parts.padTokenId;
    this.decodeOptions = parts.decodeOptions ?? {};
  }

  /** Strings that end a reply besides EOS (the reference server's stop string for conversation templates). */
  get stopStrings(): string[] {
    return stopStrings(this.format);
  }

  /** The prompt text of a conversation; with addGenerationPrompt, ready for the assistant's reply. */
  applyChatTemplate(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    return renderMessages(this.format, messages, options.addGenerationPrompt ?? true);
  }

  /** Prompt ids of one text with `<image>` placeholders, in this checkpoint's convention. */
  encodePrompt(text: string): number[] {
    if (this.imageTokenId === IMAGE_TOKEN_INDEX) return tokenizerImageToken(this.tokenizer, text);
    return this.tokenizer
      .encode(text)
      .flatMap((id) => (id === this.imageTokenId ? new Array<number>(this.tokensPerImage).fill(id) : [id]));
  }

  /** Pixel values [3, S, S] of one image, preprocessed as the model was trained; `source` names bytes in errors. */
  async pixelValues(image: ImageInput, source?: string): Promise<Tensor> {
    const loaded = await loadImage(image, this.decodeOptions, source);
    if (loaded instanceof Tensor) return loaded;
    const { data, shape } = this.imageProcessor.preprocess(loaded, this.aspectRatio);
    return tensor(data, shape);
  }

  /** Model inputs for a batch: rows left-padded (generation continues every row at its end). */
  async process(input: ProcessorInput): Promise<ModelInputs> {
    const texts =
      'text' in input
        ? [input.text].flat()
        : (isBatch(input.messages) ? input.messages : [input.messages]).map((m) => this.applyChatTemplate(m));
    const images = input.images ?? [];
    const placeholders = texts.reduce((n, t) => n + countImageTokens(t), 0);
    if (placeholders !== images.length)
      throw new Error(
        `processor: the prompts hold ${placeholders} <image> placeholders but ${images.length} images were given`,
      );
    const rows = texts.map((t) => this.encodePrompt(t));
    const width = Math.max(...rows.map((r) => r.length));
    const ids = rows.flatMap((r) => [...new Array<number>(width - r.length).fill(this.padTokenId), ...r]);
    const mask = rows.flatMap((r) => [
      ...new Array<number>(width - r.length).fill(0),
      ...new Array<number>(r.length).fill(1),
    ]);
    const i64 = (v: number[]) => tensor(BigInt64Array.from(v, BigInt), [rows.length, width]);
    const pixels = await Promise.all(images.map((image) => this.pixelValues(image)));
    return {
      inputIds: i64(ids),
      attentionMask: i64(mask),
      pixelValues: pixels.length ? stack(pixels) : undefined,
    };
  }

  /** Decodes each row of generated ids (a [B, T] tensor or arrays), skipping special tokens by default. */
  batchDecode(sequences: Tensor | number[][], options: { skipSpecialTokens?: boolean } = {}): string[] {
    const rows = sequences instanceof Tensor ? tensorRows(sequences) : sequences;
    return rows.map((r) => this.tokenizer.decode(r, { skipSpecialTokens: options.skipSpecialTokens ?? true }));
  }

  /** One question about one image (or none), answered in one call. */
  answer(options: AnswerOptions & { model: LlavaForConditionalGeneration }): Promise<string> {
    return answer(this, options);
  }

  /** As answer(), yielding the reply's text piece by piece as it is generated. */
  answerStream(options: AnswerOptions & { model: LlavaForConditionalGeneration }): AsyncGenerator<string> {
    return answerStream(this, options);
  }
}

function imageTokens(json: Record<string, unknown>): number {
  const c = llavaConfig(json);
  return (
    (c.vision_config.image_size / c.vision_config.patch_size) ** 2 +
    (c.vision_feature_select_strategy === 'full' ? 1 : 0)
  );
}

function isBatch(m: ChatMessage[] | ChatMessage[][]): m is ChatMessage[][] {
  return m.length > 0 && Array.isArray(m[0]);
}

function tensorRows(t: Tensor): number[][] {
  const [B, T] = t.shape as [number, number];
  const flat = Array.from(t.to('int64').toTypedArray() as BigInt64Array, Number);
  return Array.from({ length: B }, (_, b) => flat.slice(b * T, (b + 1) * T));
}
