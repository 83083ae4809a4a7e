// LLaVA: CLIP vision tower -> projector -> LLaMA, named as transformers'
// LlavaForConditionalGeneration (vision_tower, multi_modal_projector, language_model) so a
// llava-hf checkpoint loads key for key; the original LLaVA layout is renamed on load.
import { Module } from '../nn/index.js';
import { noGrad, scope, zeros, type Tensor } from '../torch/index.js';
import { generate, type GenerationOptions } from './generate.js';
import { CLIPVisionModel } from './clip.js';
import { llavaConfigJson, type LlavaConfig } from './config.js';
import { causalLMHeadLoss, causalLMLoss, LlamaForCausalLM, type CausalLMOutput, type DecoderInput } from './llama.js';
import { spliceImageFeatures } from './merge.js';
import { MultiModalProjector } from './projector.js';
import { loadLlava } from './hf-layout.js';
import type { LoadOptions } from './loader.js';
import { loadProjectorFile } from './projector-file.js';
import { savePretrained, type SaveOptions } from './save.js';

export type LlavaInput = {
  inputIds: Tensor; // [B, L] int64, with image placeholders (config.image_token_index)
  attentionMask?: Tensor; // [B, L]
  pixelValues?: Tensor; // [N, 3, S, S], one per placeholder image, in order of appearance
  labels?: Tensor; // [B, L], -100 = no loss; image slots never carry loss
  outputHiddenStates?: boolean;
};

export class LlavaForConditionalGeneration extends Module {
  /** Loads config.json and the safetensors weights of a Hugging Face checkpoint folder. */
  static fromPretrained(dir: string, options?: LoadOptions): LlavaForConditionalGeneration {
    return loadLlava(LlavaForConditionalGeneration, dir, options);
  }

  /** Writes config.json and model.safetensors (sharded past maxShardSize) as transformers' save_pretrained. */
  savePretrained(dir: string, options?: SaveOptions): void {
    savePretrained(this, llavaConfigJson(this.config), dir, options);
  }

  /** Loads a stage-1 projector file (keys ending in mm_projector.*) into the projector. */
  loadProjector(path: string): void {
    loadProjectorFile(this.multi_modal_projector, path);
  }

  readonly vision_tower: CLIPVisionModel;
  readonly multi_modal_projector: MultiModalProjector;
  readonly language_model: LlamaForCausalLM;

  constructor(readonly config: LlavaConfig) {
    super();
    this.vision_tower = this.registerModule('vision_tower', new CLIPVisionModel(config.vision_config));
    this.multi_modal_projector = this.registerModule(
      'multi_modal_projector',
      new MultiModalProjector(config.projector_type, config.vision_config.hidden_size, config.text_config.hidden_size),
    );
    this.language_model = this.registerModule('language_model', new LlamaForCausalLM(config.text_config));
  }

  /** Image tokens per image: patches, plus CLS for the 'full' strategy. */
  get imageSeqLength(): number {
    const v = this.config.vision_config;
    return (v.image_size / v.patch_size) ** 2 + (this.config.vision_feature_select_strategy === 'full' ? 1 : 0);
  }

  /** The selected vision hidden state (layer vision_feature_layer, CLS dropped for 'default'): [N, P, D_vision]. */
  selectedVisionFeatures(pixelValues: Tensor): Tensor {
    const layers = this.config.vision_config.num_hidden_layers;
    const layer = this.config.vision_feature_layer;
    const index = layer < 0 ? layers + 1 + layer : layer;
    if (index < 0 || index > layers)
      throw new Error(`vision_feature_layer ${layer} is outside the tower's ${layers + 1} hidden states`);
    // A frozen tower (every LLaVA stage) runs without a graph, as the reference's torch.no_grad(): nothing it makes
    // can need a gradient, so autograd's per-op bookkeeping is skipped.
    const frozen = !pixelValues.requiresGrad && this.vision_tower.parameters().every((p) => !p.requiresGrad);
    const encode = () => this.vision_tower.hiddenState(pixelValues, index);
    const selected = frozen ? noGrad(encode) : encode();
    return this.config.vision_feature_select_strategy === 'default'
      ? selected.narrow(1, 1, selected.size(1) - 1)
      : selected;
  }

  /** pixelValues [N, 3, S, S] -> projected image features [N, P, D_text]. */
  imageFeatures(pixelValues: Tensor): Tensor {
    return this.multi_modal_projector.forward(this.selectedVisionFeatures(pixelValues));
  }

  /**
   * The language model's inputs with image features spliced in: embeddings, mask, position ids
   * and labels over the expanded sequence. Without images it is the text path unchanged.
   */
  prepareInputs(input: LlavaInput): DecoderInput & { labels?: Tensor } {
    if (!input.pixelValues) {
      const placeholders = input.inputIds.eq(this.config.image_token_index).sum().item();
      if (placeholders > 0)
        throw new Error(`LLaVA: the prompts hold ${placeholders} image tokens but no pixel values were given`);
      return { inputIds: input.inputIds, attentionMask: input.attentionMask, labels: input.labels };
    }
    // Placeholder ids may lie outside the vocabulary (-200 in the original LLaVA): embed them as
    // id 0; their rows are replaced by image features anyway.
    const ids = input.inputIds.maskedFill(input.inputIds.eq(this.config.image_token_index), 0);
    const spliced = spliceImageFeatures({
      inputIds: input.inputIds,
      textEmbeds: this.language_model.model.embed_tokens.forward(ids),
      imageFeatures: this.imageFeatures(input.pixelValues),
      imageTokenIndex: this.config.image_token_index,
      attentionMask: input.attentionMask,
      labels: input.labels,
      ignoreIndex: this.config.ignore_index,
      maxLength: this.config.tokenizer_model_max_length ?? undefined,
    });
    return {
      inputsEmbeds: spliced.inputsEmbeds,
      attentionMask: spliced.attentionMask,
      positionIds: spliced.positionIds,
      labels: spliced.labels,
    };
  }

  /**
   * Continues each prompt: the images are spliced in once for the prefill, then decoding runs on
   * token ids with the KV cache. Resolves to [prompt ids (unexpanded), new tokens] as transformers.
   */
  generate(input: LlavaInput & GenerationOptions): Promise<Tensor> {
    const prefill = noGrad(() => scope(() => this.prepareInputs(input)));
    // generate() reads the prefill in its first step, before it returns: what the splice made
    // can go now; the caller's own tensors stay the caller's.
    const sequences = generate(this.language_model, prefill, input.inputIds, input);
    const given = new Set([input.inputIds, input.attentionMask, input.labels]);
    for (const t of [prefill.inputsEmbeds, prefill.attentionMask, prefill.positionIds, prefill.labels])
      if (t && !given.has(t)) t.dispose();
    return sequences;
  }

  /**
   * The training loss alone, equal to forward's: the head projects only the positions that have a target (the
   * image slots and prompts carry none), and no logits are returned.
   */
  loss(input: LlavaInput): Tensor {
    const { labels, ...decoderInput } = this.prepareInputs(input);
    if (!labels) throw new Error('LLaVA: loss() needs labels');
    const lm = this.language_model;
    const { lastHiddenState } = lm.model.forward(decoderInput);
    const attended = decoderInput.attentionMask;
    const masked = attended ? labels.maskedFill(attended.eq(0), this.config.ignore_index) : labels;
    return causalLMHeadLoss(lastHiddenState, (lm.lm_head ?? lm.model.embed_tokens).weight, masked);
  }

  /** logits [B, L', V] over the expanded sequence; loss as transformers: mean over non -100 targets at attended positions. */
  forward(input: LlavaInput): CausalLMOutput & { attentionMask: Tensor } {
    const prepared = this.prepareInputs(input);
    const { labels, ...decoderInput } = prepared;
    const out = this.language_model.forward({ ...decoderInput, outputHiddenStates: input.outputHiddenStates });
    const [B, T] = out.logits.shape as [number, number];
    const attentionMask = prepared.attentionMask ?? zeros([B, T], { dtype: 'int64', device: out.logits.device }).add(1);
    const loss = labels
      ? causalLMLoss(out.logits, labels.maskedFill(attentionMask.eq(0), this.config.ignore_index))
      : undefined;
    return { ...out, loss, attentionMask };
  }
}
