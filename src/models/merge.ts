// Splicing image features into the text embeddings, as transformers' LLaVA does for both prompt
// forms: ONE placeholder per image, which the model expands to the image's P feature slots
// (transformers 4.36-4.46), or prompts already expanded to P placeholders per image (4.45+).
// Rows are re-aligned after expansion the way 4.40 does it: on the left when the batch is
// left-padded, else on the right; new slots are padding (mask 0, label -100, zero embedding).
// The whole splice is one gather from [text embeddings; image features; a zero row], so
// gradients reach both the embeddings and the projector. With maxLength (the original layout's
// tokenizer_model_max_length) rows follow the reference instead (spec §5.4): padding removed,
// each row cut to maxLength, then re-padded.
import { cat, tensor, zeros, type Tensor } from '../torch/index.js';

export type SpliceInput = {
  inputIds: Tensor; // [B, L] int64, image placeholders = imageTokenIndex
  textEmbeds: Tensor; // [B, L, D] embeddings of inputIds (placeholder rows are ignored)
  imageFeatures: Tensor; // [N, P, D] projected features, images in order of appearance
  imageTokenIndex: number;
  attentionMask?: Tensor; // [B, L]
  labels?: Tensor; // [B, L]
  ignoreIndex: number;
  maxLength?: number; // cut spliced rows to this many real positions (the reference's tokenizer_model_max_length)
};

export type SpliceOutput = { inputsEmbeds: Tensor; attentionMask: Tensor; positionIds: Tensor; labels?: Tensor };

const rows = (t: Tensor, B: number, L: number): number[][] => {
  const flat = Array.from(t.to('int64').toTypedArray() as BigInt64Array, Number);
  return Array.from({ length: B }, (_, b) => flat.slice(b * L, (b + 1) * L));
};

export function spliceImageFeatures(input: SpliceInput): SpliceOutput {
  const [B, L] = input.inputIds.shape as [number, number];
  const [N, P, D] = input.imageFeatures.shape as [number, number, number];
  const ids = rows(input.inputIds, B, L);
  const mask = input.attentionMask ? rows(input.attentionMask, B, L) : ids.map((r) => r.map(() => 1));
  const labels = input.labels ? rows(input.labels, B, L) : undefined;
  const placeholders = ids.reduce((n, r) => n + r.filter((id) => id === input.imageTokenIndex).length, 0);
  const expanded = placeholders === N * P && P > 1;
  if (!expanded && placeholders !== N) {
    throw new Error(
      `LLaVA: the prompts hold ${placeholders} image tokens (id ${input.imageTokenIndex}) but ${N} images were given: expected one placeholder per image, or ${P} per image (${N * P}) for prompts already expanded`,
    );
  }
  const slotsPerToken = expanded ? 1 : P;
  // Row indices into the gather table [B·L text rows; N·P feature rows; 1 zero row].
  const zeroRow = B * L + N * P;
  let nextFeature = 0;
  const built = ids.map((row, b) => {
    const out = { src: [] as number[], mask: [] as number[], labels: [] as number[] };
    row.forEach((id, i) => {
      if (id === input.imageTokenIndex) {
        for (let s = 0; s < slotsPerToken; s++) {
          out.src.push(B * L + nextFeature++);
          out.mask.push(1);
          out.labels.push(input.ignoreIndex);
        }
      } else {
        out.src.push(mask[b]![i] ? b * L + i : zeroRow);
        out.mask.push(mask[b]![i]!);
        out.labels.push(mask[b]![i] && labels ? labels[b]![i]! : input.ignoreIndex);
      }
    });
    if (input.maxLength === undefined) return out;
    const kept = out.mask.flatMap((m, i) => (m ? [i] : [])).slice(0, input.maxLength);
    return { src: kept.map((i) => out.src[i]!), mask: kept.map(() => 1), labels: kept.map((i) => out.labels[i]!) };
  });
  const width = Math.max(...built.map((r) => r.src.length));
  const leftPadded = mask.some((r) => r[0] === 0) && !mask.some((r) => r[L - 1] === 0);
  const padRow = <T>(values: T[], fill: T): T[] => {
    const pad = new Array<T>(width - values.length).fill(fill);
    return leftPadded ? [...pad, ...values] : [...values, ...pad];
  };
  const src = built.flatMap((r) => padRow(r.src, zeroRow));
  const finalMask = built.flatMap((r) => padRow(r.mask, 0));
  // position ids = cumsum(mask) - 1, and 1 where masked (transformers' convention)
  const positions = built.flatMap((r) => {
    let p = -1;
    return padRow(r.mask, 0).map((m) => (m ? ++p : 1));
  });
  const table = cat([
    input.textEmbeds.reshape(B * L, D),
    input.imageFeatures.reshape(N * P, D).to(input.textEmbeds.dtype),
    zeros([1, D], { dtype: input.textEmbeds.dtype, device: input.textEmbeds.device }),
  ]);
  const i64 = (v: number[]) => tensor(BigInt64Array.from(v, BigInt), [B, width]).to(input.textEmbeds.device);
  return {
    inputsEmbeds: table
      .indexSelect(0, tensor(BigInt64Array.from(src, BigInt)).to(input.textEmbeds.device))
      .view(B, width, D),
    attentionMask: i64(finalMask),
    positionIds: i64(positions),
    labels: labels ? i64(built.flatMap((r) => padRow(r.labels, input.ignoreIndex))) : undefined,
  };
}
