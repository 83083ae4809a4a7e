// Writes a LlamaForCausalLM as a GGUF file (version 3, fp32), so that llama.cpp runs the same weights as the
// benchmark's model: the metadata keys and tensor names of llama.cpp's convert_hf_to_gguf.py for the `llama`
// architecture, and its permutation of q_proj/k_proj rows (llama.cpp rotates adjacent pairs of each head, HF's
// rotate_half the two halves). The vocabulary is a placeholder of the model's size: the benchmark feeds token ids.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { LlamaForCausalLM } from '../src/models/index.js';

const ALIGNMENT = 32; // GGUF's default general.alignment
const enum ValueType {
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  STRING = 8,
  ARRAY = 9,
}
type Value =
  | { type: ValueType.UINT32 | ValueType.INT32 | ValueType.FLOAT32; value: number }
  | { type: ValueType.STRING; value: string }
  | { type: ValueType.ARRAY; of: ValueType.STRING; value: string[] }
  | { type: ValueType.ARRAY; of: ValueType.FLOAT32 | ValueType.INT32; value: number[] };

/** Little-endian byte builder for the header, the metadata and the tensor table. */
class Bytes {
  readonly parts: Buffer[] = [];
  length = 0;
  push(b: Buffer) {
    this.parts.push(b);
    this.length += b.length;
  }
  #fixed(size: number, write: (b: Buffer) => void) {
    const b = Buffer.alloc(size);
    write(b);
    this.push(b);
  }
  u32(v: number) {
    this.#fixed(4, (b) => b.writeUInt32LE(v));
  }
  i32(v: number) {
    this.#fixed(4, (b) => b.writeInt32LE(v));
  }
  f32(v: number) {
    this.#fixed(4, (b) => b.writeFloatLE(v));
  }
  u64(v: number) {
    this.#fixed(8, (b) => b.writeBigUInt64LE(BigInt(v)));
  }
  string(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  scalar(type: ValueType, v: number | string) {
    if (type === ValueType.STRING) this.string(v as string);
    else if (type === ValueType.UINT32) this.u32(v as number);
    else if (type === ValueType.INT32) this.i32(v as number);
    else this.f32(v as number);
  }
}

/** [out, in] rows of q_proj / k_proj reordered per head from HF's halves to llama.cpp's adjacent pairs. */
function permuteForRope(w: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = rows / heads / 2;
  for (let h = 0; h < heads; h++)
    for (let pair = 0; pair < 2; pair++)
      for (let i = 0; i < half; i++) {
        const from = (h * 2 * half + pair * half + i) * cols; // reshape(heads, 2, half, cols)
        const to = (h * 2 * half + i * 2 + pair) * cols; // .swapaxes(1, 2)
        out.set(w.subarray(from, from + cols), to);
      }
  return out;
}

export function writeGguf(lm: LlamaForCausalLM, path: string): void {
  const c = lm.config;
  const vocab = c.vocab_size;
  // <unk>, <s>, </s>, the 256 byte tokens llama.cpp's SentencePiece vocabulary looks up, then placeholders.
  const tokens = Array.from({ length: vocab }, (_, i) =>
    i < 3
      ? ['<unk>', '<s>', '</s>'][i]!
      : i < 259
        ? `<0x${(i - 3).toString(16).toUpperCase().padStart(2, '0')}>`
        : `t${i}`,
  );
  const metadata: [string, Value][] = [
    ['general.architecture', { type: ValueType.STRING, value: 'llama' }],
    ['llama.context_length', { type: ValueType.UINT32, value: c.max_position_embeddings }],
    ['llama.embedding_length', { type: ValueType.UINT32, value: c.hidden_size }],
    ['llama.block_count', { type: ValueType.UINT32, value: c.num_hidden_layers }],
    ['llama.feed_forward_length', { type: ValueType.UINT32, value: c.intermediate_size }],
    ['llama.attention.head_count', { type: ValueType.UINT32, value: c.num_attention_heads }],
    ['llama.attention.head_count_kv', { type: ValueType.UINT32, value: c.num_key_value_heads }],
    ['llama.attention.layer_norm_rms_epsilon', { type: ValueType.FLOAT32, value: c.rms_norm_eps }],
    ['llama.rope.dimension_count', { type: ValueType.UINT32, value: c.hidden_size / c.num_attention_heads }],
    ['llama.rope.freq_base', { type: ValueType.FLOAT32, value: c.rope_theta }],
    ['general.file_type', { type: ValueType.UINT32, value: 0 }], // all fp32
    ['tokenizer.ggml.model', { type: ValueType.STRING, value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: ValueType.ARRAY, of: ValueType.STRING, value: tokens }],
    ['tokenizer.ggml.scores', { type: ValueType.ARRAY, of: ValueType.FLOAT32, value: tokens.map(() => 0) }],
    // 2 unknown, 3 control, 6 byte, 1 normal (llama.cpp's token types)
    [
      'tokenizer.ggml.token_type',
      {
        type: ValueType.ARRAY,
        of: ValueType.INT32,
        value: tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1)),
      },
    ],
    ['tokenizer.ggml.unknown_token_id', { type: ValueType.UINT32, value: 0 }],
    ['tokenizer.ggml.bos_token_id', { type: ValueType.UINT32, value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: ValueType.UINT32, value: 2 }],
  ];

  const gguf = new Map<string, string>([
    ['model.embed_tokens.weight', 'token_embd.weight'],
    ['model.norm.weight', 'output_norm.weight'],
    ['lm_head.weight', 'output.weight'],
  ]);
  const perLayer: [string, string][] = [
    ['input_layernorm', 'attn_norm'],
    ['self_attn.q_proj', 'attn_q'],
    ['self_attn.k_proj', 'attn_k'],
    ['self_attn.v_proj', 'attn_v'],
    ['self_attn.o_proj', 'attn_output'],
    ['post_attention_layernorm', 'ffn_norm'],
    ['mlp.gate_proj', 'ffn_gate'],
    ['mlp.up_proj', 'ffn_up'],
    ['mlp.down_proj', 'ffn_down'],
  ];
  for (let i = 0; i < c.num_hidden_layers; i++)
    for (const [hf, gg] of perLayer) gguf.set(`model.layers.${i}.${hf}.weight`, `blk.${i}.${gg}.weight`);

  const tensors = lm.namedParameters().map(([name, p]) => {
    const ggufName = gguf.get(name);
    if (!ggufName) throw new Error(`writeGguf: no GGUF name for ${name}`);
    let data = p.contiguous().toTypedArray() as Float32Array;
    if (name.endsWith('q_proj.weight')) data = permuteForRope(data, p.size(0), p.size(1), c.num_attention_heads);
    if (name.endsWith('k_proj.weight')) data = permuteForRope(data, p.size(0), p.size(1), c.num_key_value_heads);
    return { name: ggufName, dims: [...p.shape].reverse(), data }; // GGUF lists the innermost dimension first
  });

  const head = new Bytes();
  head.push(Buffer.from('GGUF', 'ascii'));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.length);
  for (const [key, v] of metadata) {
    head.string(key);
    head.u32(v.type);
    if (v.type === ValueType.ARRAY) {
      head.u32(v.of);
      head.u64(v.value.length);
      for (const x of v.value) head.scalar(v.of, x);
    } else head.scalar(v.type, v.value);
  }
  const padded = (n: number) => Math.ceil(n / ALIGNMENT) * ALIGNMENT;
  let offset = 0;
  for (const t of tensors) {
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(0); // GGML_TYPE_F32
    head.u64(offset);
    offset = padded(offset + t.data.byteLength);
  }
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, Buffer.concat([...head.parts, Buffer.alloc(padded(head.length) - head.length)]));
    for (const t of tensors) {
      writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      writeSync(fd, Buffer.alloc(padded(t.data.byteLength) - t.data.byteLength));
    }
  } finally {
    closeSync(fd);
  }
}
