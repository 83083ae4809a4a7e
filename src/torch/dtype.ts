// Tensor element types: names as PyTorch prints them, codes of c10::ScalarType (stable, they
// are serialised by PyTorch itself), and the typed array that carries each across to JS.
// float16 and bfloat16 travel as their raw bits in a Uint16Array (Node 20 has no Float16Array).

export type DType =
  'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
export type TypedArray =
  Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

type Info = { code: number; array: { new (buffer: ArrayBuffer): TypedArray; BYTES_PER_ELEMENT: number } };

const DTYPES: Record<DType, Info> = {
  uint8: { code: 0, array: Uint8Array },
  int8: { code: 1, array: Int8Array },
  int16: { code: 2, array: Int16Array },
  int32: { code: 3, array: Int32Array },
  int64: { code: 4, array: BigInt64Array },
  float16: { code: 5, array: Uint16Array },
  float32: { code: 6, array: Float32Array },
  float64: { code: 7, array: Float64Array },
  bool: { code: 11, array: Uint8Array },
  bfloat16: { code: 15, array: Uint16Array },
};

const BY_CODE = new Map<number, DType>(Object.entries(DTYPES).map(([name, info]) => [info.code, name as DType]));

export function isDType(name: string): name is DType {
  return Object.hasOwn(DTYPES, name);
}

export function dtypeCode(dtype: DType): number {
  const info = DTYPES[dtype];
  if (!info) throw new TypeError(`unknown dtype '${dtype}' (expected one of ${Object.keys(DTYPES).join(', ')})`);
  return info.code;
}

export function dtypeFromCode(code: number): DType {
  const name = BY_CODE.get(code);
  if (!name) throw new TypeError(`tensor has a scalar type (${code}) that llava-ts does not expose`);
  return name;
}

export function typedArrayFor(dtype: DType, buffer: ArrayBuffer): TypedArray {
  return new DTYPES[dtype].array(buffer);
}

/** Whether `data` is the typed array that carries `dtype` (Uint16Array for bfloat16, ...). */
export function carries(data: TypedArray, dtype: DType): boolean {
  return data.constructor === DTYPES[dtype].array;
}

/** The dtype a typed array means when none is given: Uint16Array is ambiguous and must be named. */
export function inferDType(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  throw new TypeError(
    `cannot infer a dtype from ${data.constructor.name}: pass 'float16' or 'bfloat16' for raw 16-bit data`,
  );
}

export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}
