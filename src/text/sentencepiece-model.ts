// SentencePiece's tokenizer.model: a serialized `sentencepiece.ModelProto` (sentencepiece_model.proto, proto2),
// read with @bufbuild/protobuf's wire-format reader. Only the fields a LLaMA-style BPE tokenizer needs are kept;
// every other field is skipped. Absent optional fields take the .proto's defaults, as protobuf's own parsers do.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

/** ModelProto.SentencePiece.Type. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
/** TrainerSpec.ModelType. */
export const ModelType = { UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 } as const;

export interface SentencePiece {
  piece: string;
  score: number;
  type: number;
}

export interface TrainerSpec {
  modelType: number;
  byteFallback: boolean;
  unkPiece: string;
}

export interface NormalizerSpec {
  name: string;
  /** Size of the compiled normalization rule; 0 when text is not normalized (LLaMA's `identity`). */
  precompiledCharsmapBytes: number;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SentencePieceModel {
  /** In id order: piece i has id i. */
  pieces: SentencePiece[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
}

/** Field number -> the wire type the schema gives it, and what to do with its value. */
type FieldReaders = Record<number, [WireType, (reader: BinaryReader) => void]>;

/** Reads one message; fields not listed are skipped, a listed field with another wire type means corrupt bytes. */
function readMessage(bytes: Uint8Array, message: string, fields: FieldReaders): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag();
    const known = fields[field];
    if (known === undefined) {
      reader.skip(wire, field);
    } else if (wire !== known[0]) {
      throw new Error(
        `${message} field ${field} has wire type ${WireType[wire]}, the schema says ${WireType[known[0]]}`,
      );
    } else {
      known[1](reader);
    }
  }
}

function readPiece(bytes: Uint8Array, index: number): SentencePiece {
  const where = `ModelProto.pieces[${index}]`;
  const piece: SentencePiece = { piece: '', score: 0, type: PieceType.NORMAL };
  readMessage(bytes, where, {
    1: [WireType.LengthDelimited, (r) => (piece.piece = r.string(true))],
    2: [WireType.Bit32, (r) => (piece.score = r.float())],
    3: [WireType.Varint, (r) => (piece.type = r.int32())],
  });
  if (piece.piece === '') throw new Error(`${where} has an empty piece`);
  if (!Object.values(PieceType).includes(piece.type as never))
    throw new Error(`${where} has unknown type ${piece.type}`);
  return piece;
}

function readTrainerSpec(bytes: Uint8Array): TrainerSpec {
  const spec: TrainerSpec = { modelType: ModelType.UNIGRAM, byteFallback: false, unkPiece: '<unk>' };
  readMessage(bytes, 'TrainerSpec', {
    3: [WireType.Varint, (r) => (spec.modelType = r.int32())],
    35: [WireType.Varint, (r) => (spec.byteFallback = r.bool())],
    45: [WireType.LengthDelimited, (r) => (spec.unkPiece = r.string(true))],
  });
  return spec;
}

function readNormalizerSpec(bytes: Uint8Array): NormalizerSpec {
  const spec: NormalizerSpec = {
    name: '',
    precompiledCharsmapBytes: 0,
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  readMessage(bytes, 'NormalizerSpec', {
    1: [WireType.LengthDelimited, (r) => (spec.name = r.string(true))],
    2: [WireType.LengthDelimited, (r) => (spec.precompiledCharsmapBytes = r.bytes().length)],
    3: [WireType.Varint, (r) => (spec.addDummyPrefix = r.bool())],
    4: [WireType.Varint, (r) => (spec.removeExtraWhitespaces = r.bool())],
    5: [WireType.Varint, (r) => (spec.escapeWhitespaces = r.bool())],
  });
  return spec;
}

/** Decodes the bytes of a tokenizer.model; `source` names the file in errors. */
export function parseSentencePieceModel(bytes: Uint8Array, source: string): SentencePieceModel {
  const pieces: SentencePiece[] = [];
  let trainerSpec = readTrainerSpec(new Uint8Array());
  let normalizerSpec = readNormalizerSpec(new Uint8Array());
  try {
    readMessage(bytes, 'ModelProto', {
      1: [WireType.LengthDelimited, (r) => pieces.push(readPiece(r.bytes(), pieces.length))],
      2: [WireType.LengthDelimited, (r) => (trainerSpec = readTrainerSpec(r.bytes()))],
      3: [WireType.LengthDelimited, (r) => (normalizerSpec = readNormalizerSpec(r.bytes()))],
    });
  } catch (err) {
    throw new Error(
      `tokenizer: ${source} is not a SentencePiece ModelProto: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (pieces.length === 0) throw new Error(`tokenizer: ${source} is not a SentencePiece ModelProto: it has no pieces`);
  return { pieces, trainerSpec, normalizerSpec };
}
