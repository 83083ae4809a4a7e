// transformers' CLIPModel (4.40): the vision and the text transformer, bias-free projections into a shared space,
// the learnt temperature logit_scale, and the symmetric contrastive loss. Checkpoint keys are vision_model.*,
// text_model.*, visual_projection.weight, text_projection.weight and logit_scale, so CLIPVisionModel.fromPretrained
// reads the vision tower out of this folder as transformers does.
import { Linear, Module } from '../nn/index.js';
import { arange, crossEntropy, noGrad, scope, type Tensor } from '../torch/index.js';
import { CLIPAttention, CLIPMLP, CLIPVisionEmbeddings, CLIPVisionModel, type CLIPVisionTransformer } from './clip.js';
import {
  CLIPTextEmbeddings,
  CLIPTextModel,
  clipTextConfig,
  type CLIPTextConfig,
  type CLIPTextTransformer,
} from './clip-text.js';
import { readConfig } from './config-file.js';
import { clipVisionConfig, type CLIPVisionConfig } from './config.js';
import { checkLoadOptions, loadWeights, type LoadOptions } from './loader.js';
import { savePretrained, type SaveOptions } from './save.js';
import { isDerivedBuffer, withWeights } from './weights.js';

export type CLIPConfig = {
  model_type: 'clip';
  text_config: CLIPTextConfig;
  vision_config: CLIPVisionConfig;
  projection_dim: number;
  logit_scale_init_value: number;
};

export function clipConfig(json: Record<string, unknown>, where = 'config.json'): CLIPConfig {
  return {
    model_type: 'clip',
    text_config: clipTextConfig({ model_type: 'clip', text_config: json.text_config ?? {} }, where),
    vision_config: clipVisionConfig({ model_type: 'clip', vision_config: json.vision_config ?? {} }, where),
    projection_dim: (json.projection_dim as number | undefined) ?? 512,
    logit_scale_init_value: (json.logit_scale_init_value as number | undefined) ?? 2.6592,
  };
}

export type CLIPOutput = {
  logitsPerImage: Tensor; // [Ni, Nt]
  logitsPerText: Tensor; // [Nt, Ni]
  textEmbeds: Tensor; // [Nt, P], unit norm
  imageEmbeds: Tensor; // [Ni, P], unit norm
  loss?: Tensor; // []
};

export class CLIPModel extends Module {
  static fromPretrained(dir: string, options: LoadOptions = {}): CLIPModel {
    checkLoadOptions(options, dir);
    const config = clipConfig(readConfig(dir), `${dir}/config.json`);
    const rename = (k: string) => (isDerivedBuffer(k) ? undefined : k);
    return withWeights((open) =>
      loadWeights(() => new CLIPModel(config), [{ source: open(dir), rename }], options, dir),
    );
  }

  /** config.json (model_type 'clip', both tower configs in full) and model.safetensors, as save_pretrained. */
  savePretrained(dir: string, options?: SaveOptions): void {
    const c = this.config;
    const json = {
      architectures: ['CLIPModel'],
      model_type: 'clip',
      projection_dim: c.projection_dim,
      logit_scale_init_value: c.logit_scale_init_value,
      initializer_factor: 1.0,
      text_config: { ...c.text_config },
      vision_config: { ...c.vision_config },
    };
    savePretrained(this, json, dir, options);
  }

  /** The towers as their own models (sharing these modules), for their forward passes. */
  readonly vision: CLIPVisionModel;
  readonly text: CLIPTextModel;
  readonly text_model: CLIPTextTransformer;
  readonly vision_model: CLIPVisionTransformer;
  readonly visual_projection: Linear;
  readonly text_projection: Linear;
  readonly logit_scale: Tensor;
  constructor(readonly config: CLIPConfig) {
    super();
    this.text = new CLIPTextModel(config.text_config);
    this.vision = new CLIPVisionModel(config.vision_config);
    this.text_model = this.registerModule('text_model', this.text.text_model);
    this.vision_model = this.registerModule('vision_model', this.vision.vision_model);
    const P = config.projection_dim;
    this.visual_projection = this.registerModule(
      'visual_projection',
      new Linear(config.vision_config.hidden_size, P, false),
    );
    this.text_projection = this.registerModule('text_projection', new Linear(config.text_config.hidden_size, P, false));
    this.logit_scale = this.initParameter('logit_scale', [], (t) => t.fill_(config.logit_scale_init_value));
  }

  /** pixelValues [N, 3, S, S] -> [N, P], unit norm (get_image_features, normalised as forward does). */
  imageEmbeds(pixelValues: Tensor): Tensor {
    return scope(() => unit(this.visual_projection.forward(this.vision.forward({ pixelValues }).poolerOutput)));
  }

  /** inputIds [N, T] -> [N, P], unit norm. */
  textEmbeds(inputIds: Tensor, inputsEmbeds?: Tensor): Tensor {
    return scope(() => unit(this.text_projection.forward(this.text.forward({ inputIds, inputsEmbeds }).poolerOutput)));
  }

  /** Image–text similarities scaled by exp(logit_scale); with returnLoss the contrastive loss (row i matches column i). */
  forward(input: { inputIds: Tensor; pixelValues: Tensor; returnLoss?: boolean }): CLIPOutput {
    return scope(() => {
      const imageEmbeds = this.imageEmbeds(input.pixelValues);
      const textEmbeds = this.textEmbeds(input.inputIds);
      const logitsPerText = textEmbeds.matmul(imageEmbeds.transpose(0, 1)).mul(this.logit_scale.exp());
      const logitsPerImage = logitsPerText.transpose(0, 1);
      const loss = input.returnLoss ? clipLoss(logitsPerText) : undefined;
      return { logitsPerImage, logitsPerText, textEmbeds, imageEmbeds, loss };
    });
  }

  /** CLIPPreTrainedModel._init_weights (initializer_factor 1, initializer_range 0.02), in place; norms stay 1 and 0. */
  initWeights(): this {
    const normal = (t: Tensor, std: number) => t.normal_(0, std);
    const towers = [
      [this.text_model, this.config.text_config.num_hidden_layers],
      [this.vision_model, this.config.vision_config.num_hidden_layers],
    ] as const;
    noGrad(() => {
      for (const [tower, layers] of towers) {
        for (const [, m] of tower.namedModules()) {
          if (m instanceof CLIPTextEmbeddings) {
            normal(m.token_embedding.weight, 0.02);
            normal(m.position_embedding.weight, 0.02);
          } else if (m instanceof CLIPVisionEmbeddings) {
            normal(m.class_embedding, m.config.hidden_size ** -0.5);
            normal(m.patch_embedding.weight, 0.02);
            normal(m.position_embedding.weight, 0.02);
          } else if (m instanceof CLIPAttention) {
            const D = m.heads * m.headDim;
            for (const p of [m.q_proj, m.k_proj, m.v_proj]) normal(p.weight, D ** -0.5 * (2 * layers) ** -0.5);
            normal(m.out_proj.weight, D ** -0.5);
          } else if (m instanceof CLIPMLP) {
            const D = m.config.hidden_size;
            normal(m.fc1.weight, (2 * D) ** -0.5);
            normal(m.fc2.weight, D ** -0.5 * (2 * layers) ** -0.5);
          } else if (m instanceof Linear && m.bias) m.bias.zero_();
        }
      }
      normal(this.text_projection.weight, this.config.text_config.hidden_size ** -0.5);
      normal(this.visual_projection.weight, this.config.vision_config.hidden_size ** -0.5);
    });
    return this;
  }
}

/** x [N, P] / ‖x‖₂ per row. */
function unit(x: Tensor): Tensor {
  return x.div(x.pow(2).sum(-1, true).sqrt());
}

/** clip_loss: the mean of cross-entropy over rows (text -> image) and over columns (image -> text), targets the diagonal. */
export function clipLoss(logitsPerText: Tensor): Tensor {
  return scope(() => {
    const targets = arange(0, logitsPerText.size(0), 1, { device: logitsPerText.device });
    return crossEntropy(logitsPerText, targets)
      .add(crossEntropy(logitsPerText.transpose(0, 1), targets))
      .div(2);
  });
}
