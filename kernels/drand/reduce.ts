// Per-segment min / max / sum / mean of a tensor on the GPU (shaders/drand_reduce.wgsl): the statistics that
// contrast, histogram shift, k-space spikes and min-max normalisation read straight from GPU memory, so no
// readback is needed inside the chain.
import source from '../../shaders/drand_reduce.wgsl';
import { VesselError } from '../../src/gpu/errors.js';
import { params } from '../../src/runtime/runtime.js';
import { fmtShape } from '../../src/tensor/shape.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const WG = 256;
const CHUNK = WG * 16;

export interface StatsOptions {
  /** Number of equal contiguous segments reduced separately (default 1: the whole tensor). */
  segments?: number;
  /** The input is complex [..., 2] and the statistics are of log(|K| + 1e-10). */
  logAbs?: boolean;
}

/**
 * Statistics of `x`: an f32 tensor [segments, 4] holding (min, max, sum, mean) of each segment.
 */
export function stats(x: Tensor, opts: StatsOptions = {}): Tensor {
  const e = x.engine;
  const segments = opts.segments ?? 1;
  const elems = opts.logAbs ? x.size / 2 : x.size;
  if (x.dtype !== 'f32') throw new VesselError(`stats: expected f32, got ${x.dtype} ${fmtShape(x.shape)}`);
  if (opts.logAbs && x.shape[x.rank - 1] !== 2) throw new VesselError(`stats: logAbs needs a complex tensor [..., 2], got ${fmtShape(x.shape)}`);
  if (!Number.isInteger(segments) || segments < 1 || elems % segments !== 0 || elems === 0) {
    throw new VesselError(`stats: ${elems} elements of ${fmtShape(x.shape)} cannot be split into ${segments} segments`);
  }
  const len = elems / segments;
  const chunks = Math.ceil(len / CHUNK);
  if (segments > 65535 || chunks > 65535) throw new VesselError(`stats: tensor ${fmtShape(x.shape)} is too large to reduce`);
  const partial = e.empty([segments * chunks, 4]);
  const out = e.empty([segments, 4]);
  const k1 = e.rt.kernel('drand_reduce', source, { WG, CHUNK, PASS1: true, LOGABS: !!opts.logAbs });
  const k2 = e.rt.kernel('drand_reduce', source, { WG, CHUNK, PASS1: false, LOGABS: false });
  const u = params().u32(len).u32(chunks).u32(segments);
  e.rt.dispatch(k1, [x.binding(), partial.binding()], u, [chunks, segments, 1]);
  e.rt.dispatch(k2, [partial.binding(), out.binding()], u, [segments, 1, 1]);
  partial.dispose();
  return out;
}
