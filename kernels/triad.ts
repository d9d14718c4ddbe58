// triad: a = b·c + d over f32 tensors of one size, vec4 per invocation (scalars for the last n mod 4). The
// bandwidth benchmark's kernel: 16 bytes moved per element (three reads, one write).
import source from '../shaders/triad.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { params } from '../src/runtime/runtime.js';
import { fmtShape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { chunkRanges, grid1D } from './util.js';

const WG = 256;

/** a = b·c + d, elementwise; every operand f32 with the same number of elements. */
export function triad(a: Tensor, b: Tensor, c: Tensor, d: Tensor): void {
  for (const t of [a, b, c, d]) {
    if (t.dtype !== 'f32' || t.size !== a.size) {
      throw new VesselError(
        `triad: operands must be f32 with ${a.size} elements; got a ${fmtShape(a.shape)} ${a.dtype}, b ${fmtShape(b.shape)} ${b.dtype}, ` +
          `c ${fmtShape(c.shape)} ${c.dtype}, d ${fmtShape(d.shape)} ${d.dtype}`,
      );
    }
  }
  const rt = a.engine.rt;
  const vec = rt.kernel('triad', source, { WG, VEC: true });
  // Chunks start at aligned offsets (a multiple of 4 elements), so each chunk's vec4 body starts at element 0.
  for (const [start, count] of chunkRanges(a)) {
    const binds = [a, b, c, d].map((t) => t.binding(start, count));
    const n4 = Math.floor(count / 4);
    if (n4 > 0) rt.dispatch(vec, binds, params().u32(n4).u32(0), grid1D(n4, WG));
    const tail = count - 4 * n4;
    if (tail > 0) rt.dispatch(rt.kernel('triad', source, { WG, VEC: false }), binds, params().u32(tail).u32(4 * n4), [1, 1, 1]);
  }
}
