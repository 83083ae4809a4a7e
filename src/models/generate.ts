// Autoregressive generation as transformers' generate (greedy and multinomial sampling): the
// same logits processors in the same order (repetition penalty, then temperature, top-k,
// top-p), EOS handling that pads finished rows, left-padded batches through position ids,
// plus stop strings, streaming and a preallocated KV cache. Between steps it yields to the event
// loop, so a server keeps answering while a generation runs. The caller's tensors are read in the
// first (synchronous) step only and never disposed: the caller may free them once generate returns.
import { rng } from '../data/rng.js';
import { cat, full, keep, noGrad, randint, scope, tensor, type Tensor } from '../torch/index.js';
import { KVCache } from './kv-cache.js';
import type { DecoderInput, LlamaForCausalLM } from './llama.js';
import { processLogits, sampleRows } from './sampling.js';

export type GenerationOptions = {
  maxNewTokens: number;
  doSample?: boolean;
  /** Defaults follow transformers' GenerationConfig: temperature 1, topK 50, topP 1, repetitionPenalty 1. */
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  /**
   * Seeds this generation's own generator, so a sampled generation is reproducible whatever else
   * draws random numbers meanwhile. Unseeded, the seed is drawn from libtorch's global generator
   * (so manualSeed reproduces it too).
   */
  seed?: number;
  /** Stop ids (default: the model config's eos_token_id); null never stops early. */
  eosTokenId?: number | number[] | null;
  /** Written after a row finishes (default: config pad_token_id, else the first EOS id, else 0). */
  padTokenId?: number;
  /** Stop a row once its decoded continuation contains one of these; needs `decode`. */
  stopStrings?: string[];
  decode?: (ids: number[]) => string;
  /** Called after every step with each row's new token (the pad id for finished rows) and the raw next-token logits [B, V]. */
  onStep?: (step: { index: number; tokens: number[]; logits: Tensor; finished: boolean[] }) => void;
};

export type GenerationStep = { index: number; tokens: number[]; finished: boolean[] };

/**
 * Runs the decoder from a prepared prefill (token ids, or embeddings with images spliced in)
 * and returns [promptIds, new tokens] as transformers returns sequences: [B, L + steps].
 */
export async function generate(
  lm: LlamaForCausalLM,
  prefill: DecoderInput,
  promptIds: Tensor,
  options: GenerationOptions,
): Promise<Tensor> {
  const o = resolveOptions(lm, options);
  const [B, promptLen] = promptIds.shape as [number, number];
  const first = prefill.inputsEmbeds ?? prefill.inputIds!;
  const prefillLen = first.size(1);
  const cfg = lm.config;
  const weight = lm.model.embed_tokens.weight;
  const cache = new KVCache(
    cfg.num_hidden_layers,
    prefillLen + o.maxNewTokens,
    { batch: B, kvHeads: cfg.num_key_value_heads, headDim: cfg.hidden_size / cfg.num_attention_heads },
    weight.dtype,
    weight.device,
  );
  const uniform = o.doSample ? rng(o.seed ?? scope(() => randint(0, 2 ** 31 - 1, [1]).item())) : undefined;

  const rows = Array.from(promptIds.toTypedArray() as BigInt64Array, Number);
  const promptDevice = promptIds.device;
  const history = Array.from({ length: B }, (_, b) =>
    rows.slice(b * promptLen, (b + 1) * promptLen).filter((id) => id >= 0),
  );
  const generated: number[][] = Array.from({ length: B }, () => []);
  const finished = new Array<boolean>(B).fill(false);
  const device = weight.device;
  const onDevice = (t: Tensor) => t.to(device);
  // The first step reads the prefill's tensors (the caller's); later steps only tensors made here.
  const owned = new Set<Tensor>();
  const own = (t: Tensor) => (owned.add(keep(t)), t);
  let mask = prefill.attentionMask ?? own(full([B, prefillLen], 1, { dtype: 'int64', device }));
  const attended = Array.from(mask.sum(1).toTypedArray() as BigInt64Array, Number);
  let positionIds = prefill.positionIds ?? own(scope(() => mask.cumsum(1).sub(1).maskedFill(mask.eq(0), 1)));
  let step: DecoderInput = { inputIds: prefill.inputIds, inputsEmbeds: prefill.inputsEmbeds };
  const replace = (old: Tensor | undefined, next: Tensor): Tensor => {
    if (old && owned.delete(old)) old.dispose();
    return own(next);
  };
  try {
    for (let index = 0; index < o.maxNewTokens; index++) {
      const tokens = scope(() =>
        noGrad(() => {
          const logits = lm
            .forward({ ...step, attentionMask: mask, positionIds, cache, logitsToKeep: 1 })
            .logits.select(1, -1); // [B, V]
          const scores = processLogits(logits, history, o);
          const next = uniform ? sampleRows(scores.softmax(-1), Array.from({ length: B }, uniform)) : scores.argmax(-1);
          const ids = Array.from(next.toTypedArray() as BigInt64Array, Number).map((id, b) =>
            finished[b] ? o.padTokenId : id,
          );
          o.onStep?.({ index, tokens: ids, logits, finished: [...finished] });
          return ids;
        }),
      );
      tokens.forEach((id, b) => {
        history[b]!.push(id);
        if (finished[b]) return;
        generated[b]!.push(id);
        if (
          o.eos.includes(id) ||
          (o.stopStrings.length && o.decode && o.stopStrings.some((s) => o.decode!(generated[b]!).includes(s)))
        )
          finished[b] = true;
      });
      padTo(generated, finished, o.padTokenId);
      if (finished.every(Boolean)) break;
      // Next step: one token per row, one more attended position, positions continuing per row.
      mask = replace(
        mask,
        scope(() => cat([mask, full([B, 1], 1, { dtype: 'int64', device })], 1)),
      );
      positionIds = replace(
        positionIds,
        scope(() =>
          onDevice(tensor(BigInt64Array.from(attended.map((n, b) => BigInt(n + generated[b]!.length - 1))), [B, 1])),
        ),
      );
      step = {
        inputIds: replace(
          step.inputIds,
          scope(() => onDevice(tensor(BigInt64Array.from(tokens.map(BigInt)), [B, 1]))),
        ),
      };
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    cache.dispose();
    for (const t of owned) t.dispose();
  }
  // [prompt ids as given, new tokens], from the ids read at the start.
  const width = promptLen + Math.max(...generated.map((g) => g.length));
  const sequences = Array.from({ length: B }, (_, b) => [
    ...rows.slice(b * promptLen, (b + 1) * promptLen),
    ...generated[b]!,
    ...new Array(width - promptLen - generated[b]!.length).fill(o.padTokenId),
  ]);
  return tensor(BigInt64Array.from(sequences.flat(), BigInt), [B, width]).to(promptDevice);
}

/** Finished rows keep receiving the pad id, so every row has the same length. */
function padTo(generated: number[][], finished: boolean[], pad: number): void {
  const width = Math.max(...generated.map((g) => g.length));
  generated.forEach((g, b) => {
    while (finished[b] && g.length < width) g.push(pad);
  });
}

type Resolved = Required<
  Pick<
    GenerationOptions,
    'maxNewTokens' | 'doSample' | 'temperature' | 'topK' | 'topP' | 'repetitionPenalty' | 'padTokenId' | 'stopStrings'
  >
> &
  Pick<GenerationOptions, 'seed' | 'decode' | 'onStep'> & { eos: number[] };

function resolveOptions(lm: LlamaForCausalLM, o: GenerationOptions): Resolved {
  const eosSetting = o.eosTokenId === undefined ? lm.config.eos_token_id : o.eosTokenId;
  const eos = eosSetting === null ? [] : Array.isArray(eosSetting) ? eosSetting : [eosSetting];
  const r: Resolved = {
    maxNewTokens: o.maxNewTokens,
    doSample: o.doSample ?? false,
    temperature: o.temperature ?? 1,
    topK: o.topK ?? 50,
    topP: o.topP ?? 1,
    repetitionPenalty: o.repetitionPenalty ?? 1,
    padTokenId: o.padTokenId ?? lm.config.pad_token_id ?? eos[0] ?? 0,
    stopStrings: o.stopStrings ?? [],
    seed: o.seed,
    decode: o.decode,
    onStep: o.onStep,
    eos,
  };
  const bad = (what: string) => {
    throw new RangeError(`generate: ${what}`);
  };
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 1)
    bad(`maxNewTokens must be a positive integer, got ${o.maxNewTokens}`);
  if (!(r.temperature > 0)) bad(`temperature must be > 0, got ${r.temperature}`);
  if (!(r.topP > 0 && r.topP <= 1)) bad(`topP must be in (0, 1], got ${r.topP}`);
  if (!Number.isInteger(r.topK) || r.topK < 0) bad(`topK must be a non-negative integer, got ${r.topK}`);
  if (!(r.repetitionPenalty > 0)) bad(`repetitionPenalty must be > 0, got ${r.repetitionPenalty}`);
  if (r.stopStrings.length && !r.decode) bad('stopStrings need a decode function (ids -> text)');
  if (r.seed !== undefined && !Number.isSafeInteger(r.seed)) bad(`seed must be an integer, got ${r.seed}`);
  return r;
}
