export type DType = 'f32' | 'f16' | 'i32' | 'u32' | 'u8';

export const DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'u32', 'u8'];

export function bytesPer(dtype: DType): number {
  return dtype === 'f16' ? 2 : dtype === 'u8' ? 1 : 4;
}

/** GPU storage bytes for `n` elements: whole 32-bit words (u8 and f16 are packed into u32 words). */
export function storageBytes(dtype: DType, n: number): number {
  return Math.max(4, Math.ceil((n * bytesPer(dtype)) / 4) * 4);
}

/** The array type a download returns: f16 comes back widened to Float32Array. */
export type HostArray = Float32Array | Int32Array | Uint32Array | Uint8Array;

export function hostArray(dtype: DType, n: number): HostArray {
  switch (dtype) {
    case 'f32':
    case 'f16':
      return new Float32Array(n);
    case 'i32':
      return new Int32Array(n);
    case 'u32':
      return new Uint32Array(n);
    case 'u8':
      return new Uint8Array(n);
  }
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'f16';
}

export function assertDType(x: string): DType {
  if (!(DTYPES as readonly string[]).includes(x)) throw new Error(`Unknown dtype "${x}" (expected one of ${DTYPES.join(', ')})`);
  return x as DType;
}
