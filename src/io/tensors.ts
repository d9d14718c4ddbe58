// The tensor record shared by the checkpoint formats (PyTorch .pt, safetensors): dtype, shape and C-order data.
// Half and bfloat16 tensors keep their raw 16-bit patterns (Uint16Array); toFloat32 decodes any dtype.
import { VesselError } from '../gpu/errors.js';
import { halfToFloat } from './npy.js';

export type TensorDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

export interface TensorRecord {
  dtype: TensorDtype;
  shape: number[];
  /** C-order (row-major) elements; float16/bfloat16 as raw bits. */
  data: TensorData;
}

export const DTYPE_BYTES: Record<TensorDtype, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** A typed array of `dtype` over `bytes` (which must be aligned for the element size; copies when not). */
export function typedView(dtype: TensorDtype, bytes: Uint8Array): TensorData {
  const size = DTYPE_BYTES[dtype];
  if (bytes.byteLength % size !== 0) throw new VesselError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  const b = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const n = b.byteLength / size;
  switch (dtype) {
    case 'float32':
      return new Float32Array(b.buffer, b.byteOffset, n);
    case 'float64':
      return new Float64Array(b.buffer, b.byteOffset, n);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(b.buffer, b.byteOffset, n);
    case 'int64':
      return new BigInt64Array(b.buffer, b.byteOffset, n);
    case 'int32':
      return new Int32Array(b.buffer, b.byteOffset, n);
    case 'int16':
      return new Int16Array(b.buffer, b.byteOffset, n);
    case 'int8':
      return new Int8Array(b.buffer, b.byteOffset, n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(b.buffer, b.byteOffset, n);
  }
}

export function emptyOf(dtype: TensorDtype, n: number): TensorData {
  return typedView(dtype, new Uint8Array(n * DTYPE_BYTES[dtype]));
}

export function bf16ToFloat(h: number): number {
  const f = new Float32Array(new Uint32Array([h << 16]).buffer);
  return f[0];
}

/** Any tensor's values as float32 (exact for float16/bfloat16; int64 rounded past 2^24). */
export function toFloat32(t: TensorRecord): Float32Array {
  const d = t.data;
  if (t.dtype === 'float32') return d as Float32Array;
  const out = new Float32Array(d.length);
  if (t.dtype === 'float16') {
    const lut = halfTable();
    for (let i = 0; i < d.length; i++) out[i] = lut[(d as Uint16Array)[i]];
  } else if (t.dtype === 'bfloat16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < d.length; i++) u[i] = (d as Uint16Array)[i] << 16;
  } else if (t.dtype === 'int64') {
    for (let i = 0; i < d.length; i++) out[i] = Number((d as BigInt64Array)[i]);
  } else {
    for (let i = 0; i < d.length; i++) out[i] = (d as Float64Array)[i];
  }
  return out;
}

let halfLut: Float32Array | null = null;
function halfTable(): Float32Array {
  if (!halfLut) {
    halfLut = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfLut[h] = halfToFloat(h);
  }
  return halfLut;
}

/** Copy a strided view (element strides, element offset) of `src` into a new C-order array. */
export function gatherStrided(src: TensorData, shape: readonly number[], stride: readonly number[], offset: number, dtype: TensorDtype): TensorData {
  const n = numel(shape);
  const out = emptyOf(dtype, n) as unknown as { [i: number]: unknown };
  const s = src as unknown as { [i: number]: unknown };
  const nd = shape.length;
  if (n === 0) return out as unknown as TensorData;
  const idx = new Array<number>(nd).fill(0);
  let p = offset;
  for (let i = 0; i < n; i++) {
    out[i] = s[p];
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      p += stride[d];
      if (idx[d] < shape[d]) break;
      p -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out as unknown as TensorData;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d];
  }
  return st;
}

/** True when the strides describe a C-contiguous layout (size-1 dimensions may have any stride). */
export function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== s) return false;
    s *= shape[d];
  }
  return true;
}
