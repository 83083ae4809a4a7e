// Activation recompute per decoder layer (gradient_checkpointing), driven from the outside of the model: the
// decoder runs once without a graph, keeping only each layer's input [B, T, D]; the head's loss is
// back-propagated to the last hidden state; then each layer, last first, is run again with a graph from its saved
// input and back-propagated with the gradient of its output, giving the gradient of its input for the layer
// before; finally the spliced embeddings (projector, embed_tokens) take the first layer's input gradient. The
// same operators run on the same inputs as the plain pass, so loss and gradients are the plain run's, while only
// one layer's activations are alive at a time.
import { causalLMHeadLoss, type LlavaForConditionalGeneration } from '../models/index.js';
import { arange, noGrad, scope, type Tensor } from '../torch/index.js';
import { causalMask } from '../models/index.js';
import type { MicroBatch } from './trainer.js';

/** Forward and backward of `loss · scale` with recompute; returns the micro-batch's mean loss. */
export function forwardBackwardRecompute(
  model: LlavaForConditionalGeneration,
  batch: MicroBatch,
  scale: number,
): number {
  return scope(() => {
    const lm = model.language_model;
    const decoder = lm.model;
    const prepared = model.prepareInputs(batch); // with a graph: the projector and embed_tokens may train
    const x0 = prepared.inputsEmbeds ?? decoder.embed_tokens.forward(prepared.inputIds!);
    const [B, T] = x0.shape as [number, number];
    const positionIds = prepared.positionIds ?? arange(0, T, 1, { device: x0.device }).view(1, T).expand(B, T);
    const { cos, sin } = noGrad(() => decoder.rotary.forward(positionIds, x0.dtype));
    const mask = causalMask(B, T, 0, prepared.attentionMask, x0.dtype, x0.device);
    const layers = decoder.layers.items;
    const inputs: Tensor[] = [];
    const last = noGrad(() => {
      let x = x0;
      for (const layer of layers) {
        inputs.push(x);
        x = layer.forward(x, cos, sin, mask);
      }
      return x;
    });
    // The head in its own scope: the logits [B, T, V] and their copies are freed before the layers recompute.
    const head = scope(() => {
      const h = last.detach().requiresGrad_(true);
      const attended = prepared.attentionMask ?? batch.attentionMask;
      // Only the loss outlives this inner scope: the head's logits go before backward (autograd keeps what it needs).
      const loss = scope(() => {
        const labels = prepared.labels!.maskedFill(attended.eq(0), model.config.ignore_index);
        return causalLMHeadLoss(decoder.norm.forward(h), (lm.lm_head ?? decoder.embed_tokens).weight, labels);
      });
      loss.mul(scale).backward();
      return { loss: loss.item(), gradOut: h.grad! };
    });
    last.dispose();
    let gradOut = head.gradOut;
    for (let i = layers.length - 1; i >= 0; i--) {
      gradOut = scope(() => {
        const input = inputs[i]!.detach().requiresGrad_(true);
        layers[i]!.forward(input, cos, sin, mask).backward(gradOut);
        return input.grad!;
      });
      // A layer's saved input goes once its backward is done (the first one is x0, still needed below).
      if (i > 0) inputs[i]!.dispose();
    }
    if (x0.requiresGrad) x0.backward(gradOut);
    return head.loss;
  });
}
