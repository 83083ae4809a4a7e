// Continuous batching: the requests being answered share every decode step through one SlotCache. Between steps,
// waiting requests join (their prompt is prefilled alone into a free slot) and finished or cancelled ones leave, so
// a request never waits for another to finish. Decode on a CPU streams the weights once per step whatever the
// batch, so n requests decode at close to n times one request's rate. The queue of requests waiting for a slot is
// bounded: past it, submit() refuses with QueueFullError (the server's 429).
import type { LlavaForConditionalGeneration } from '../models/llava.js';
import type { DecoderInput } from '../models/llama.js';
import { rng } from '../data/rng.js';
import { noGrad, scope, tensor } from '../torch/index.js';
import type { TextTokenizer } from '../text/tokenizer.js';
import type { ModelInputs } from './processor.js';
import { sampleRows, type SamplingParams } from './sampler.js';
import { SlotCache } from './slot-cache.js';
import { TextStream } from './text-stream.js';

export interface EngineRequest {
  inputs: ModelInputs; // one prompt: inputIds [1, L]
  maxNewTokens: number;
  sampling: SamplingParams;
  /** Seeds the request's own generator (a random seed when absent). */
  seed?: number;
  stop: string[];
  /** Aborting ends the generation at the next step (finishReason 'cancelled'). */
  signal?: AbortSignal;
  /** Each settled piece of text as it is generated. */
  onText?: (piece: string) => void;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface EngineResult {
  text: string;
  tokens: number[];
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
  /** Nanoseconds, as Ollama reports them: waiting for a slot, prefill, decode. */
  queueNs: number;
  prefillNs: number;
  decodeNs: number;
}

export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('the server is at capacity; retry shortly');
  }
}

export interface EngineOptions {
  /** Requests decoding together (slots of the shared cache). */
  maxBatch?: number;
  /** Requests waiting for a slot before submit() refuses. */
  maxQueue?: number;
  /** Positions per slot: prompt (with image features) plus new tokens (default: max_position_embeddings). */
  contextLength?: number;
}

interface Active {
  request: EngineRequest;
  stream: TextStream;
  draw: () => number;
  tokens: number[];
  promptTokens: number;
  resolve: (r: EngineResult) => void;
  reject: (e: unknown) => void;
  queueNs: number;
  prefillNs: number;
  decodeStart: bigint;
  finish?: FinishReason;
}

interface Waiting {
  request: EngineRequest;
  resolve: (r: EngineResult) => void;
  reject: (e: unknown) => void;
  queued: bigint;
}

export class BatchEngine {
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly contextLength: number;
  readonly #cache: SlotCache;
  readonly #queue: Waiting[] = [];
  readonly #active: Active[] = [];
  readonly #eosIds: number[];
  #running = false;
  #closed = false;

  constructor(
    readonly model: LlavaForConditionalGeneration,
    readonly tokenizer: TextTokenizer,
    options: EngineOptions = {},
  ) {
    const cfg = model.config.text_config;
    this.maxBatch = options.maxBatch ?? 8;
    this.maxQueue = options.maxQueue ?? 64;
    this.contextLength = options.contextLength ?? cfg.max_position_embeddings;
    this.#eosIds = cfg.eos_token_id === null ? [] : [cfg.eos_token_id].flat();
    const weight = model.language_model.model.embed_tokens.weight;
    this.#cache = new SlotCache(
      cfg.num_hidden_layers,
      this.maxBatch,
      this.contextLength,
      { kvHeads: cfg.num_key_value_heads, headDim: cfg.hidden_size / cfg.num_attention_heads },
      weight.dtype,
      weight.device,
    );
  }

  /** Bytes the shared KV cache holds (slots x context x layers x keys and values). */
  get cacheBytes(): number {
    return this.#cache.bytes;
  }

  get load(): { active: number; queued: number } {
    return { active: this.#active.length, queued: this.#queue.length };
  }

  /** Positions a prompt takes once its images are spliced in. */
  promptLength(inputs: ModelInputs): number {
    const placeholders = inputs.inputIds.eq(this.model.config.image_token_index).sum().item();
    const images = inputs.pixelValues?.size(0) ?? 0;
    const expanded = placeholders === images * this.model.imageSeqLength && this.model.imageSeqLength > 1;
    return inputs.inputIds.size(1) + (expanded ? 0 : images * (this.model.imageSeqLength - 1));
  }

  submit(request: EngineRequest): Promise<EngineResult> {
    if (this.#closed) return Promise.reject(new Error('engine is closed'));
    // Queued requests that a free slot will take at the next step are not waiting.
    const free = this.maxBatch - this.#active.length;
    if (this.#queue.length - free >= this.maxQueue) return Promise.reject(new QueueFullError(1));
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject, queued: process.hrtime.bigint() });
      if (!this.#running) void this.#run();
    });
  }

  /** Refuses new requests, cancels waiting ones and frees the cache once the running ones end. */
  close(): void {
    this.#closed = true;
    for (const w of this.#queue.splice(0)) w.reject(new Error('engine is closed'));
    if (!this.#running) this.#cache.dispose();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      // The event loop runs between a prefill and the next step, and between steps, so that text written by
      // onText reaches the sockets before the next (long, synchronous) forward pass.
      const yieldToEventLoop = () => new Promise((r) => setImmediate(r));
      while (this.#queue.length || this.#active.length) {
        if (this.#queue.length && this.#active.length < this.maxBatch) {
          this.#admit(this.#queue.shift()!);
          this.#retire();
          await yieldToEventLoop();
        }
        if (this.#active.length) this.#stepOrFail();
        this.#retire();
        await yieldToEventLoop();
      }
    } finally {
      this.#running = false;
      if (this.#closed) this.#cache.dispose();
    }
  }

  /** Prefills a request into the next free slot; its first token comes from the prefill's logits. */
  #admit(w: Waiting): void {
    const started = process.hrtime.bigint();
    const { request } = w;
    let first: number;
    let length: number;
    const slot = this.#active.length;
    const draw = rng(request.seed ?? Math.floor(Math.random() * 2 ** 52));
    try {
      ({ first, length } = scope(() =>
        noGrad(() => {
          const { inputIds, attentionMask, pixelValues } = request.inputs;
          const dtype = this.model.language_model.model.embed_tokens.weight.dtype;
          const prefill: DecoderInput = this.model.prepareInputs({
            inputIds,
            attentionMask,
            pixelValues: pixelValues?.to(dtype),
          });
          const length = (prefill.inputsEmbeds ?? prefill.inputIds!).size(1);
          if (length + request.maxNewTokens > this.contextLength)
            throw new RangeError(
              `prompt (${length} positions) + max new tokens (${request.maxNewTokens}) exceed the context of ${this.contextLength}`,
            );
          this.#cache.beginPrefill(slot, length);
          const logits = this.model.language_model
            .forward({ ...prefill, cache: this.#cache, logitsToKeep: 1 })
            .logits.select(1, -1);
          return { first: sampleRows(logits, [request.sampling], [draw])[0]!, length };
        }),
      ));
    } catch (err) {
      w.reject(err);
      return;
    }
    const now = process.hrtime.bigint();
    const active: Active = {
      request,
      stream: new TextStream(this.tokenizer, request.stop),
      draw,
      tokens: [],
      promptTokens: length,
      resolve: w.resolve,
      reject: w.reject,
      queueNs: Number(started - w.queued),
      prefillNs: Number(now - started),
      decodeStart: now,
    };
    this.#active.push(active);
    this.#accept(active, first);
  }

  /** A step that fails (a libtorch error) fails the requests in it, not the engine. */
  #stepOrFail(): void {
    try {
      this.#step();
    } catch (err) {
      for (const a of this.#active.splice(0)) a.reject(err);
    }
  }

  /** One decode step of every active row: each feeds its last token. */
  #step(): void {
    const n = this.#active.length;
    const next = scope(() =>
      noGrad(() => {
        const { attentionMask, positionIds } = this.#cache.beginDecode(n);
        const last = tensor(
          BigInt64Array.from(this.#active, (a) => BigInt(a.tokens[a.tokens.length - 1]!)),
          [n, 1],
        );
        const logits = this.model.language_model
          .forward({
            inputIds: last.to(this.#cache.device),
            attentionMask,
            positionIds,
            cache: this.#cache,
            logitsToKeep: 1,
          })
          .logits.select(1, -1);
        return sampleRows(
          logits,
          this.#active.map((a) => a.request.sampling),
          this.#active.map((a) => a.draw),
        );
      }),
    );
    this.#active.forEach((a, b) => this.#accept(a, next[b]!));
  }

  /** Records a new token of a request and decides whether it is done. */
  #accept(a: Active, id: number): void {
    if (a.request.signal?.aborted) {
      a.finish = 'cancelled';
      return;
    }
    a.tokens.push(id);
    const piece = a.stream.push(id);
    if (piece) a.request.onText?.(piece);
    if (this.#eosIds.includes(id) || a.stream.stopped) a.finish = 'stop';
    else if (a.tokens.length >= a.request.maxNewTokens) a.finish = 'length';
  }

  /** Answers finished requests and frees their slots, moving the last active row into each. */
  #retire(): void {
    for (let i = this.#active.length - 1; i >= 0; i--) {
      const a = this.#active[i]!;
      if (a.finish === undefined && !a.request.signal?.aborted) continue;
      const finish = a.finish ?? 'cancelled';
      const lastIndex = this.#active.length - 1;
      if (i !== lastIndex) {
        this.#cache.moveSlot(lastIndex, i);
        this.#active[i] = this.#active[lastIndex]!;
      }
      this.#active.pop();
      if (finish !== 'cancelled') {
        const rest = a.stream.finish();
        if (rest) a.request.onText?.(rest);
      }
      a.resolve({
        text: a.stream.text,
        tokens: a.tokens,
        promptTokens: a.promptTokens,
        completionTokens: a.tokens.length,
        finishReason: finish,
        queueNs: a.queueNs,
        prefillNs: a.prefillNs,
        decodeNs: Number(process.hrtime.bigint() - a.decodeStart),
      });
    }
  }
}
