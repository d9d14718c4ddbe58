// fill: set every element of a tensor to one value, as a 32-bit word pattern.
import source from '../shaders/fill.wgsl';
import { params } from '../src/runtime/runtime.js';
import { f32ToF16Bits } from '../src/tensor/f16.js';
import type { Tensor } from '../src/tensor/tensor.js';
import type { DType } from '../src/tensor/dtype.js';
import { chunkRanges, grid1D } from './util.js';

const WG = 256;

export function wordPattern(value: number, dtype: DType): number {
  const dv = new DataView(new ArrayBuffer(4));
  switch (dtype) {
    case 'f32':
      dv.setFloat32(0, value, true);
      return dv.getUint32(0, true);
    case 'f16': {
      const h = f32ToF16Bits(value);
      return ((h << 16) | h) >>> 0;
    }
    case 'i32':
      return (value | 0) >>> 0;
    case 'u32':
      return value >>> 0;
    case 'u8': {
      const b = value & 0xff;
      return ((b << 24) | (b << 16) | (b << 8) | b) >>> 0;
    }
  }
}

export function fill(t: Tensor, value: number): void {
  const rt = t.engine.rt;
  const k = rt.kernel('fill', source, { WG });
  const pattern = wordPattern(value, t.dtype);
  for (const [start, count] of chunkRanges(t)) {
    const b = t.binding(start, count);
    const words = b.size! / 4;
    rt.dispatch(k, [b], params().u32(words).u32(pattern), grid1D(words, WG));
  }
}
