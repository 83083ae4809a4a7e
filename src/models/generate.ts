// Autoregressive generation as transformers' generate (greedy and multinomial sampling): the
// same logits processors in the same order (repetition penalty, then temperature, top-k,
// top-p), EOS handling that pads finished rows, left-padded batches through position ids,
// plus stop strings, streaming and a preallocated KV cache. Between steps it yields to the event
// loop, so a server keeps answering while a generation runs.
import { cat, full, keep, manualSeed, multinomial, noGrad, scope, tensor, where, type Tensor } from '../torch/index.js';
import { KVCache } from './kv-cache.js';
import type { DecoderInput, LlamaForCausalLM } from './llama.js';

export type GenerationOptions = {
  maxNewTokens: number;
  doSample?: boolean;
  /** Defaults follow transformers' GenerationConfig: temperature 1, topK 50, topP 1, repetitionPenalty 1. */
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  /** Seeds libtorch's global generator before sampling, so a sampled generation is reproducible. */
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
  if (o.seed !== undefined) manualSeed(o.seed);

  const rows = Array.from(promptIds.toTypedArray() as BigInt64Array, Number);
  const history = Array.from({ length: B }, (_, b) =>
    rows.slice(b * promptLen, (b + 1) * promptLen).filter((id) => id >= 0),
  );
  const generated: number[][] = Array.from({ length: B }, () => []);
  const finished = new Array<boolean>(B).fill(false);
  const device = weight.device;
  const onDevice = (t: Tensor) => t.to(device);
  let mask = keep(prefill.attentionMask ?? full([B, prefillLen], 1, { dtype: 'int64', device }));
  const attended = Array.from(mask.sum(1).toTypedArray() as BigInt64Array, Number);
  let positionIds = keep(prefill.positionIds ?? scope(() => mask.cumsum(1).sub(1).maskedFill(mask.eq(0), 1)));
  let step: DecoderInput = {
    inputIds: prefill.inputIds && keep(prefill.inputIds.clone()),
    inputsEmbeds: prefill.inputsEmbeds,
  };
  try {
    for (let index = 0; index < o.maxNewTokens; index++) {
      const tokens = scope(() =>
        noGrad(() => {
          const logits = lm
            .forward({ ...step, attentionMask: mask, positionIds, cache, logitsToKeep: 1 })
            .logits.select(1, -1); // [B, V]
          const scores = processLogits(logits, history, o);
          const next = o.doSample ? multinomial(scores.softmax(-1), 1).view(B) : scores.argmax(-1);
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
      const nextMask = keep(cat([mask, full([B, 1], 1, { dtype: 'int64', device })], 1));
      mask.dispose();
      mask = nextMask;
      positionIds.dispose();
      positionIds = keep(
        scope(() =>
          onDevice(tensor(BigInt64Array.from(attended.map((n, b) => BigInt(n + generated[b]!.length - 1))), [B, 1])),
        ),
      );
      step.inputIds?.dispose();
      step = { inputIds: keep(scope(() => onDevice(tensor(BigInt64Array.from(tokens.map(BigInt)), [B, 1])))) };
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    step.inputIds?.dispose();
    cache.dispose();
    mask.dispose();
    positionIds.dispose();
  }
  const width = Math.max(...generated.map((g) => g.length));
  const continuation = tensor(
    BigInt64Array.from(generated.flatMap((g) => [...g, ...new Array(width - g.length).fill(o.padTokenId)]).map(BigInt)),
    [B, width],
  );
  return cat([promptIds, continuation.to(promptIds.device)], 1);
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
  return r;
}

/** scores [B, V] after repetition penalty, and for sampling temperature, top-k and top-p, in transformers' order. */
function processLogits(logits: Tensor, history: number[][], o: Resolved): Tensor {
  let scores = logits;
  if (o.repetitionPenalty !== 1) {
    const width = Math.max(...history.map((h) => h.length));
    const seen = tensor(
      BigInt64Array.from(history.flatMap((h) => [...h, ...new Array(width - h.length).fill(h[0] ?? 0)]).map(BigInt)),
      [history.length, width],
    ).to(scores.device);
    const s = scores.gather(1, seen);
    scores = scores.scatter(1, seen, where(s.lt(0), s.mul(o.repetitionPenalty), s.div(o.repetitionPenalty)));
  }
  if (!o.doSample) return scores;
  if (o.temperature !== 1) scores = scores.div(o.temperature);
  if (o.topK > 0 && o.topK < scores.size(-1)) {
    const kth = scores.topk(o.topK, -1).values.narrow(-1, o.topK - 1, 1);
    scores = scores.maskedFill(scores.lt(kth), -Infinity);
  }
  if (o.topP < 1) {
    const { values, indices } = scores.sort(-1, false);
    const remove = values
      .softmax(-1)
      .cumsum(-1)
      .le(1 - o.topP);
    const V = scores.size(-1);
    const keepLast = remove.narrow(-1, 0, V - 1);
    const sortedRemove = cat([keepLast, full([scores.size(0), 1], false, { device: scores.device })], -1);
    scores = scores.maskedFill(sortedRemove.scatter(1, indices, sortedRemove), -Infinity);
  }
  return scores;
}
