// Dispatch geometry and chunking shared by kernel modules.
import type { Tensor } from '../src/tensor/tensor.js';
import { bytesPer } from '../src/tensor/dtype.js';

export const MAX_GROUPS = 65535;

/**
 * Workgroup counts for `n` items at `perGroup` items per workgroup, spread over x and y so no dimension exceeds
 * 65,535. Shaders recover the linear workgroup index as `wid.y * nwg.x + wid.x` (see shaders/common: linear_index).
 */
export function grid1D(n: number, perGroup: number): [number, number, number] {
  const groups = Math.ceil(n / perGroup);
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  const x = Math.ceil(groups / y);
  if (y > MAX_GROUPS) throw new Error(`dispatch of ${n} items is too large`);
  return [x, y, 1];
}

/**
 * Split [0, n) elements of a tensor into ranges whose bindings fit maxStorageBufferBindingSize and start at
 * offsets aligned to minStorageBufferOffsetAlignment (and to whole 32-bit words for packed dtypes).
 */
export function chunkRanges(t: Tensor, n = t.size): Array<[start: number, count: number]> {
  const rt = t.engine.rt;
  const bpe = bytesPer(t.dtype);
  const align = Math.max(rt.storageAlign, 4);
  const maxBytes = Math.floor(rt.maxBinding / align) * align;
  const per = Math.floor(maxBytes / bpe);
  if (n * bpe <= rt.maxBinding) return [[0, n]];
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += per) out.push([s, Math.min(per, n - s)]);
  return out;
}
