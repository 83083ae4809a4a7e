// LLaVA's LazySupervisedDataset: sample i of an instruction file turned into input ids, labels and pixel values,
// exactly as the reference's __getitem__ does (image placement, template, tokenisation and masking, CLIP
// preprocessing with the pad/square aspect mode, a zero image for text-only samples of a multimodal run).
import { ClipImageProcessor, type AspectRatio, type PixelValues } from '../vision/clip-processor.js';
import { decodeImageFile, type DecodeOptions } from '../vision/decode.js';
import { conversationTemplate, type ConversationTemplate } from '../text/conversation.js';
import { placeImage, type ImagePlacement } from '../text/image-placement.js';
import { preprocess } from '../text/preprocess.js';
import { TextTokenizer } from '../text/tokenizer.js';
import { ImageRoot } from './image-root.js';
import {
  InstructionFile,
  indexInstructionFile,
  type BadInputPolicy,
  type InstructionIndex,
} from './instruction-index.js';
import { rng } from './rng.js';
import { SampleError } from './sample.js';

/** Everything a dataset needs, as plain data so a worker thread can rebuild the same dataset. */
export interface SupervisedDataOptions {
  dataPath: string;
  /** The image folder (`--image_folder`); without it the run is text-only and image samples are an error. */
  imageFolder?: string;
  tokenizerDir: string;
  /** The conversation template (`--version`): v1, vicuna_v1, llava_v1, llava_llama_2, plain, ... */
  version: string;
  /** The vision tower's preprocessor_config.json; CLIP defaults (224) when absent. */
  preprocessorConfig?: string;
  imageAspectRatio?: AspectRatio;
  placement?: ImagePlacement;
  seed?: number;
  /** Defaults to the tokenizer's model_max_length. */
  modelMaxLength?: number;
  /** Malformed records found while indexing: error (default) or skip and report. */
  onBadRecord?: BadInputPolicy;
  maxPixels?: number;
  orientation?: DecodeOptions['orientation'];
  /** -200 (default) or the llava-hf `<image>` token id. */
  imageTokenId?: number;
}

export interface Item {
  index: number;
  id: string;
  inputIds: Int32Array;
  labels: Int32Array;
  /** [3, H, W]; zeros for a text-only sample of a multimodal run; null in a text-only run. */
  pixelValues: PixelValues | null;
  hasImage: boolean;
  /** The reference's tokenization-mismatch flag: every label of the sample is then ignored. */
  mismatch: { curLen: number; totalLen: number } | null;
}

export class SupervisedDataset {
  private readonly file: InstructionFile;
  private readonly tokenizer: TextTokenizer;
  private readonly template: ConversationTemplate;
  private readonly processor: ClipImageProcessor;
  private readonly root: ImageRoot | null;
  readonly padTokenId: number;
  readonly modelMaxLength: number;

  static async open(options: SupervisedDataOptions): Promise<SupervisedDataset> {
    return new SupervisedDataset(
      await indexInstructionFile(options.dataPath, { onBadRecord: options.onBadRecord }),
      options,
    );
  }

  constructor(
    readonly index: InstructionIndex,
    readonly options: SupervisedDataOptions,
  ) {
    this.template = conversationTemplate(options.version);
    this.tokenizer = TextTokenizer.fromDir(options.tokenizerDir);
    // LLaVA sets pad = unk for every version it trains but v0 (which adds a [PAD] token); spec §4.1.
    const pad = this.tokenizer.padId ?? this.tokenizer.unkId;
    if (pad === undefined) throw new Error(`tokenizer in ${options.tokenizerDir} has neither a pad nor an unk token`);
    this.padTokenId = pad;
    this.modelMaxLength = options.modelMaxLength ?? this.tokenizer.modelMaxLength;
    this.processor = options.preprocessorConfig
      ? ClipImageProcessor.fromFile(options.preprocessorConfig)
      : new ClipImageProcessor();
    this.root = options.imageFolder === undefined ? null : new ImageRoot(options.imageFolder);
    this.file = new InstructionFile(index);
  }

  get size(): number {
    return this.file.size;
  }

  /** Modality lengths for the length-grouped sampler. */
  get lengths(): Int32Array {
    return this.index.modalityLengths;
  }

  async get(i: number): Promise<Item> {
    const sample = this.file.get(i);
    const where = `${this.index.path}:${this.index.lines[i]} (id ${sample.id})`;
    const hasImage = sample.image !== undefined;
    let pixelValues: PixelValues | null = null;
    if (hasImage) {
      if (this.root === null) throw new SampleError(where, 'has an image but no image folder was given');
      let path: string;
      try {
        path = this.root.resolve(sample.image!);
      } catch (err) {
        throw new SampleError(where, (err as Error).message);
      }
      const image = await decodeImageFile(path, {
        maxPixels: this.options.maxPixels,
        orientation: this.options.orientation,
      }).catch((err: Error) => {
        throw new SampleError(where, err.message);
      });
      pixelValues = this.processor.preprocess(image, this.options.imageAspectRatio ?? 'square');
    } else if (this.root !== null) {
      pixelValues = this.processor.zeros();
    }
    const coin = rng(this.options.seed ?? 0, 0x1a5a, i);
    // The reference runs preprocess_multimodal only for samples with an image.
    const turns = hasImage
      ? placeImage(sample.conversations, {
          placement: this.options.placement ?? 'first',
          coin: () => coin() < 0.5,
          mmtag: this.template.version.includes('mmtag'),
        })
      : sample.conversations;
    let out;
    try {
      out = preprocess(this.tokenizer, this.template, turns, {
        hasImage,
        padTokenId: this.padTokenId,
        modelMaxLength: this.modelMaxLength,
        imageTokenId: this.options.imageTokenId,
      });
    } catch (err) {
      throw new SampleError(where, (err as Error).message);
    }
    return {
      index: i,
      id: sample.id,
      hasImage,
      pixelValues,
      mismatch: out.mismatch,
      inputIds: Int32Array.from(out.inputIds),
      labels: Int32Array.from(out.labels),
    };
  }

  close(): void {
    this.file.close();
  }
}
