// Stage 0 of `llava demo`, only because nothing pretrained can be downloaded: a small CLIP trained contrastively on
// the world's image–caption pairs and a small LLaMA trained on the world's text, each written as the Hugging Face
// folder a real checkpoint would be (config.json, model.safetensors, the tokenizer; CLIP's preprocessor_config.json,
// LLaMA's generation_config.json), so stages 1 and 2 load them exactly as they would load CLIP and Vicuna.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIPModel, clipConfig } from '../models/clip-model.js';
import { LlamaForCausalLM, llamaConfig } from '../models/index.js';
import { Embedding, Linear } from '../nn/index.js';
import { manualSeed, noGrad, tensor, type Tensor } from '../torch/index.js';
import { TextTokenizer } from '../text/tokenizer.js';
import { CLIP_MEAN, CLIP_STD, ClipImageProcessor, decodeImageFile, type PreprocessorConfig } from '../vision/index.js';
import { permutation, rng } from '../data/rng.js';
import { copyTokenizerFiles } from '../train/outputs.js';
import { batchOrder, optimise, type LoopOptions } from './train-loop.js';

export type ClipTrainOptions = LoopOptions & {
  /** CLIPVisionConfig / CLIPTextConfig fields, as config.ts's CLIP section has them. */
  vision: {
    hidden_size: number;
    intermediate_size: number;
    num_hidden_layers: number;
    num_attention_heads: number;
    patch_size: number;
  };
  text: {
    hidden_size: number;
    intermediate_size: number;
    num_hidden_layers: number;
    num_attention_heads: number;
    max_position: number;
  };
  projection_dim: number;
  /** Side of the (square) images, px. */
  imageSize: number;
  /** The last images, kept out of training to measure retrieval (default min(batchSize, a tenth of them)). */
  heldOut?: number;
};

export type Retrieval = { imageToText: number; textToImage: number; chance: number };
export type ClipResult = { model: CLIPModel; losses: number[]; seconds: number; before: Retrieval; after: Retrieval };

/** Trains a CLIPModel on the pairs and writes it, with the tokenizer and a CLIPImageProcessor config, into outDir. */
export async function trainClip(
  pairs: { image: string; caption: string }[],
  tokenizerDir: string,
  outDir: string,
  o: ClipTrainOptions,
): Promise<ClipResult> {
  const tokenizer = TextTokenizer.fromDir(tokenizerDir);
  // The processor config is written first and read back, so training sees images exactly as stages 1 and 2 will.
  mkdirSync(outDir, { recursive: true });
  const preprocessorPath = join(outDir, 'preprocessor_config.json');
  writeFileSync(preprocessorPath, JSON.stringify(imageProcessorConfig(o.imageSize), null, 2) + '\n');
  const processor = ClipImageProcessor.fromFile(preprocessorPath);
  // Every distinct image once, preprocessed: [U, 3, S, S]; pairs point at their image.
  const paths = [...new Set(pairs.map((p) => p.image))];
  const S = o.imageSize;
  const pixels = new Float32Array(paths.length * 3 * S * S);
  for (const [u, path] of paths.entries())
    pixels.set(processor.preprocess(await decodeImageFile(path)).data, u * 3 * S * S);
  const images = tensor(pixels, [paths.length, 3, S, S]);
  const imageIndex = new Map(paths.map((p, u) => [p, u]));
  const captionsOf = paths.map(() => [] as number[]);
  pairs.forEach((p, k) => captionsOf[imageIndex.get(p.image)!]!.push(k));
  const T = o.text.max_position;
  const ids = textIds(
    tokenizer,
    pairs.map((p) => p.caption),
    T,
  ); // [M, T]

  const heldOut = o.heldOut ?? Math.min(o.batchSize, Math.floor(paths.length / 10));
  const train = paths.length - heldOut;
  o.log?.(`clip: ${paths.length} images (${heldOut} held out), ${pairs.length} captions of at most ${T} tokens`);
  const evalImages = Array.from({ length: heldOut }, (_, i) => train + i);
  const evalBatch = batchOf(
    images,
    ids,
    evalImages,
    evalImages.map((u) => captionsOf[u]![0]!),
  );

  manualSeed(o.seed);
  const model = new CLIPModel(
    clipConfig({
      projection_dim: o.projection_dim,
      text_config: {
        ...without(o.text, 'max_position'),
        max_position_embeddings: T,
        vocab_size: tokenizer.vocabSize,
        projection_dim: o.projection_dim,
        // Pooled at the first pad after the caption: 4.40 reads eos_token_id 2 (our </s>) as its pre-fix argmax rule.
        pad_token_id: 0,
        bos_token_id: 1,
        eos_token_id: 0,
      },
      vision_config: { ...o.vision, image_size: S, projection_dim: o.projection_dim },
    }),
  ).initWeights();
  const measure = () =>
    heldOut > 1 ? retrieval(model, evalBatch) : { imageToText: NaN, textToImage: NaN, chance: NaN };
  const before = measure();
  const order = batchOrder(train, o.batchSize, o.seed);
  // Image u's caption at step s: its captions in turn, offset per image so a batch mixes caption styles.
  const pick = (u: number, s: number) => captionsOf[u]![(s * 7919 + u) % captionsOf[u]!.length]!;
  const show = (r: Retrieval) => `held-out retrieval i→t ${pct(r.imageToText)} t→i ${pct(r.textToImage)}`;
  const { losses, seconds } = optimise(
    'clip',
    model.parameters(),
    o,
    (s) => {
      const { rows } = order(s);
      const batch = batchOf(
        images,
        ids,
        rows,
        rows.map((u) => pick(u, s)),
      );
      return model.forward({ ...batch, returnLoss: true }).loss!;
    },
    () => (heldOut > 1 ? show(measure()) : ''),
  );
  const after = measure();
  model.savePretrained(outDir);
  copyTokenizerFiles(tokenizerDir, outDir);
  return { model, losses, seconds, before, after };
}

export type LlmTrainOptions = LoopOptions & {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  /** Tokens per row: the texts, each as <s> … </s>, are packed into rows of this length (default 128). */
  blockSize?: number;
  /** Rows kept out of training to measure the loss (default a batch, at most a tenth of the rows). */
  heldOut?: number;
};

export type LlmResult = {
  model: LlamaForCausalLM;
  losses: number[];
  seconds: number;
  heldOutLoss: { before: number; after: number };
};

/** Trains a LlamaForCausalLM on the texts and writes it, with generation_config.json and the tokenizer, into outDir. */
export function trainLlm(texts: string[], tokenizerDir: string, outDir: string, o: LlmTrainOptions): LlmResult {
  const tokenizer = TextTokenizer.fromDir(tokenizerDir);
  const L = Math.min(o.blockSize ?? 128, o.max_position_embeddings);
  // Texts in a seeded order, each as <s> … </s>, until the run's rows are filled: a large corpus is not tokenized
  // past what the steps read, and repeated texts are tokenized once.
  const need = (o.steps * o.batchSize + o.batchSize + 1) * L;
  const cache = new Map<string, number[]>();
  const stream: number[] = [];
  for (const i of permutation(texts.length, rng(o.seed, 1))) {
    if (stream.length >= need) break;
    const text = texts[i]!;
    const ids = cache.get(text) ?? tokenizer.encode(text, { addSpecialTokens: false });
    cache.set(text, ids);
    stream.push(1, ...ids, 2);
  }
  const rows = Math.floor(stream.length / L);
  if (rows < 2) throw new Error(`trainLlm: ${stream.length} tokens make fewer than 2 rows of ${L}`);
  const blocks = tensor(BigInt64Array.from(stream.slice(0, rows * L), BigInt), [rows, L]); // [R, L]
  const heldOut = o.heldOut ?? Math.max(1, Math.min(o.batchSize, Math.floor(rows / 10)));
  const train = rows - heldOut;
  o.log?.(`llm: ${rows} rows of ${L} tokens (${heldOut} held out), vocabulary ${tokenizer.vocabSize}`);
  const evalRows = blocks.narrow(0, train, heldOut);

  manualSeed(o.seed);
  const model = new LlamaForCausalLM(
    llamaConfig({
      vocab_size: tokenizer.vocabSize,
      hidden_size: o.hidden_size,
      intermediate_size: o.intermediate_size,
      num_hidden_layers: o.num_hidden_layers,
      num_attention_heads: o.num_attention_heads,
      max_position_embeddings: o.max_position_embeddings,
      rms_norm_eps: 1e-6,
      bos_token_id: 1,
      eos_token_id: 2,
    }),
  );
  initLlama(model);
  const evalLoss = () =>
    noGrad(() => {
      model.eval();
      const loss = model.forward({ inputIds: evalRows, labels: evalRows }).loss!;
      const value = loss.item();
      loss.dispose();
      model.train();
      return value;
    });
  const before = evalLoss();
  const order = batchOrder(train, o.batchSize, o.seed);
  const { losses, seconds } = optimise('llm', model.parameters(), o, (s) => {
    const batch = blocks.indexSelect(0, order(s).index); // [B, L]; labels are the ids (the loss shifts them)
    return model.forward({ inputIds: batch, labels: batch }).loss!;
  });
  const after = evalLoss();
  model.savePretrained(outDir);
  const generation = { bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, max_length: o.max_position_embeddings };
  writeFileSync(join(outDir, 'generation_config.json'), JSON.stringify(generation, null, 2) + '\n');
  copyTokenizerFiles(tokenizerDir, outDir);
  return { model, losses, seconds, heldOutLoss: { before, after } };
}

/** CLIPImageProcessor for square images of `size` px: the resize and crop are identities, CLIP's mean and std. */
function imageProcessorConfig(size: number): PreprocessorConfig & Record<string, unknown> {
  return {
    crop_size: { height: size, width: size },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: CLIP_MEAN,
    image_processor_type: 'CLIPImageProcessor',
    image_std: CLIP_STD,
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: size },
  };
}

/** Captions as [M, T] int64: <s>, the caption's ids (cut to T - 1), then pad 0 (the pooled position) to T. */
function textIds(tokenizer: TextTokenizer, captions: string[], T: number): Tensor {
  const out = new BigInt64Array(captions.length * T);
  captions.forEach((c, k) => {
    const ids = [1, ...tokenizer.encode(c, { addSpecialTokens: false })].slice(0, T - 1);
    ids.forEach((id, j) => (out[k * T + j] = BigInt(id)));
  });
  return tensor(out, [captions.length, T]);
}

function batchOf(images: Tensor, ids: Tensor, imageRows: number[], captionRows: number[]) {
  const index = (rows: number[]) => tensor(BigInt64Array.from(rows, BigInt), [rows.length]);
  return { pixelValues: images.indexSelect(0, index(imageRows)), inputIds: ids.indexSelect(0, index(captionRows)) };
}

/** Top-1 retrieval within the held-out batch, both ways (chance 1 / batch). */
function retrieval(model: CLIPModel, batch: { pixelValues: Tensor; inputIds: Tensor }): Retrieval {
  return noGrad(() => {
    model.eval();
    const out = model.forward(batch);
    const n = batch.inputIds.size(0);
    const hits = (logits: Tensor) => {
      const best = Array.from(logits.argmax(-1).toTypedArray() as BigInt64Array, Number);
      return best.filter((b, i) => b === i).length / n;
    };
    const r = { imageToText: hits(out.logitsPerImage), textToImage: hits(out.logitsPerText), chance: 1 / n };
    for (const t of Object.values(out)) t?.dispose();
    model.train();
    return r;
  });
}

/** LlamaPreTrainedModel._init_weights: N(0, 0.02) for every linear and embedding weight, zero biases. */
function initLlama(model: LlamaForCausalLM): void {
  noGrad(() => {
    for (const [, m] of model.namedModules()) {
      if (m instanceof Linear || m instanceof Embedding) m.weight.normal_(0, 0.02);
      if (m instanceof Linear && m.bias) m.bias.zero_();
    }
  });
}

function without<T extends object, K extends keyof T>(o: T, key: K): Omit<T, K> {
  const { [key]: _drop, ...rest } = o;
  return rest;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
