// The stage-0 vocabulary as SentencePiece's tokenizer.model, beside tokenizer.json, because LLaVA's own training
// loads LLaMA tokenizers with use_fast=False (the slow LlamaTokenizer reads only tokenizer.model). A BPE model's
// encoder merges, among adjacent pieces, the pair whose join has the highest score, so each merged piece scores
// minus its merge rank and the learnt merges replay in order; LlamaConverter derives the same merges back.
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

// ModelProto.SentencePiece.Type and TrainerSpec.ModelType (sentencepiece_model.proto).
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const BYTE = 6;
const BPE = 2;

/** `vocab` in id order (<unk> <s> </s>, the 256 byte pieces, the alphabet, then one piece per merge, in order). */
export function sentencePieceModel(pieces: string[], alphabetSize: number): Uint8Array {
  const w = new BinaryWriter();
  const firstMerged = 3 + 256 + alphabetSize;
  pieces.forEach((piece, id) => {
    const type = id === 0 ? UNKNOWN : id < 3 ? CONTROL : id < 259 ? BYTE : NORMAL;
    // Merged pieces score -rank; single characters below every merge (they are never the product of one).
    const score = id < 259 ? 0 : id >= firstMerged ? -(id - firstMerged) : -(pieces.length + id);
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(piece);
    w.tag(2, WireType.Bit32).float(score);
    w.tag(3, WireType.Varint).int32(type);
    w.join();
  });
  // TrainerSpec: model_type, vocab_size, split_digits, byte_fallback, unk/bos/eos/pad ids and pieces, as LLaMA's.
  w.tag(2, WireType.LengthDelimited).fork();
  w.tag(3, WireType.Varint).int32(BPE);
  w.tag(4, WireType.Varint).int32(pieces.length);
  w.tag(25, WireType.Varint).bool(true);
  w.tag(35, WireType.Varint).bool(true);
  w.tag(40, WireType.Varint).int32(0);
  w.tag(41, WireType.Varint).int32(1);
  w.tag(42, WireType.Varint).int32(2);
  w.tag(43, WireType.Varint).int32(-1);
  w.tag(45, WireType.LengthDelimited).string('<unk>');
  w.tag(46, WireType.LengthDelimited).string('<s>');
  w.tag(47, WireType.LengthDelimited).string('</s>');
  w.join();
  // NormalizerSpec: identity, dummy prefix, spaces kept and escaped as `▁`.
  w.tag(3, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).string('identity');
  w.tag(3, WireType.Varint).bool(true);
  w.tag(4, WireType.Varint).bool(false);
  w.tag(5, WireType.Varint).bool(true);
  w.join();
  return w.finish();
}
