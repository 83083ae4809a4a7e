// Rotary position embeddings as transformers' LlamaRotaryEmbedding (4.40): pairs are dims i and
// i + head_dim/2 (rotate_half), inv_freq = 1/θ^(2i/d), cos/sin computed in float32.
// rope_scaling 'linear' divides positions by the factor; 'dynamic' (NTK) raises θ once the
// sequence outgrows max_position_embeddings.
import { arange, cat, noGrad, powBase, type Tensor } from '../torch/index.js';
import type { LlamaConfig } from './config.js';

export class RotaryEmbedding {
  readonly headDim: number;

  constructor(readonly config: LlamaConfig) {
    this.headDim = config.hidden_size / config.num_attention_heads;
  }

  #invFreq(seqLen: number, device: string): Tensor {
    let base = this.config.rope_theta;
    const s = this.config.rope_scaling;
    if (s?.type === 'dynamic' && seqLen > this.config.max_position_embeddings) {
      const d = this.headDim;
      base = base * ((s.factor * seqLen) / this.config.max_position_embeddings - (s.factor - 1)) ** (d / (d - 2));
    }
    // 1 / base^(arange(0, d, 2)/d), in float32 as transformers computes it
    return powBase(base, arange(0, this.headDim, 2, { device }).to('float32').div(this.headDim)).reciprocal();
  }

  /** positionIds [B, T] (int64) -> cos, sin [B, T, head_dim] in `dtype`. */
  forward(positionIds: Tensor, dtype: Tensor['dtype']): { cos: Tensor; sin: Tensor } {
    return noGrad(() => {
      // Only dynamic scaling depends on the sequence length; reading it back costs a sync per step.
      const seqLen = this.config.rope_scaling?.type === 'dynamic' ? positionIds.max().item() + 1 : 0;
      const invFreq = this.#invFreq(seqLen, positionIds.device); // [d/2]
      let pos = positionIds.to('float32');
      if (this.config.rope_scaling?.type === 'linear') pos = pos.div(this.config.rope_scaling.factor);
      const freqs = pos.unsqueeze(-1).mul(invFreq); // [B, T, d/2]
      const emb = cat([freqs, freqs], -1); // [B, T, d]
      return { cos: emb.cos().to(dtype), sin: emb.sin().to(dtype) };
    });
  }
}
