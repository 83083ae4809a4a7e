// The benchmarks' LLaMA, one definition for all of them: 8 layers of width 512, vocab 32000 (~41M parameters
// with the embeddings, 166.8 MB of fp32 weights streamed per decode step).
export const LLAMA_8X512 = {
  hidden_size: 512,
  intermediate_size: 1376,
  num_hidden_layers: 8,
  num_attention_heads: 8,
  num_key_value_heads: 8,
  vocab_size: 32000,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  max_position_embeddings: 4096,
};
