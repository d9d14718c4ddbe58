// The eight plain numeric element types the volume formats share (NumPy, NIfTI, MetaImage, volumes): their
// typed-array constructors, and the dtype name of a typed array.
import { VesselError } from '../gpu/errors.js';

export type PlainDtype = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
export type PlainArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

type PlainCtor = {
  new (n: number): PlainArray;
  new (buf: ArrayBufferLike, byteOffset?: number, length?: number): PlainArray;
};

export const PLAIN_CTORS: Record<PlainDtype, PlainCtor> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

/** The dtype name of a typed array; `what` names the format in the error for any other array. */
export function plainDtypeOf(data: unknown, what: string): PlainDtype {
  for (const [name, Ctor] of Object.entries(PLAIN_CTORS) as [PlainDtype, PlainCtor][]) if (data instanceof Ctor) return name;
  throw new VesselError(`${what}: unsupported array type`);
}

/** A view of `n` elements (default: to the end) of `dtype` on a buffer. */
export function plainView(dtype: PlainDtype, buf: ArrayBufferLike, byteOffset = 0, n?: number): PlainArray {
  return n === undefined ? new PLAIN_CTORS[dtype](buf, byteOffset) : new PLAIN_CTORS[dtype](buf, byteOffset, n);
}
