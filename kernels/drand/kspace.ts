// k-space artifacts on an unshifted complex spectrum (shaders/drand_kspace.wgsl), in place: MONAI's spike noise
// and Gibbs truncation, addressed in fftshift-ed coordinates without materialising the shift.
import source from '../../shaders/drand_kspace.wgsl';
import { VesselError } from '../../src/gpu/errors.js';
import { params } from '../../src/runtime/runtime.js';
import { fmtShape, sizeOf } from '../../src/tensor/shape.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { grid1D } from '../util.js';

const WG = 256;

function spectrumDims(k: Tensor, what: string): { channels: number; d: number; h: number; w: number } {
  if (k.dtype !== 'f32' || k.rank < 4 || k.shape[k.rank - 1] !== 2) {
    throw new VesselError(`${what}: expected a complex spectrum [..., D, H, W, 2], got ${fmtShape(k.shape)} ${k.dtype}`);
  }
  const [d, h, w] = k.shape.slice(-4, -1);
  return { channels: sizeOf(k.shape.slice(0, -4)), d, h, w };
}

/** Unshifted index of the fftshift-ed position s along an axis of length n. */
export function unshiftIndex(s: number, n: number): number {
  return (s + Math.ceil(n / 2)) % n;
}

/**
 * Set |K| = exp(v) at fftshift-ed position `loc` [z, y, x] of every channel, keeping the phase. v = `intensity`
 * when given, else 2.5 · mean(log(|K| + 1e-10)) · (0.95 + 0.15 u) from `logStats` (stats(K, { logAbs: true,
 * segments: channels })). In place; returns k.
 */
export function spikeKernel(k: Tensor, loc: readonly [number, number, number], u: number, logStats: Tensor, intensity?: number): Tensor {
  const { channels, d, h, w } = spectrumDims(k, 'kspaceSpike');
  const dims = [d, h, w];
  if (loc.some((s, i) => !Number.isInteger(s) || s < 0 || s >= dims[i])) {
    throw new VesselError(`kspaceSpike: location [${loc.join(', ')}] outside the volume ${fmtShape(dims)}`);
  }
  if (logStats.size < 4 * channels) throw new VesselError(`kspaceSpike: statistics for ${channels} channels expected, got ${fmtShape(logStats.shape)}`);
  const flat = (unshiftIndex(loc[0], d) * h + unshiftIndex(loc[1], h)) * w + unshiftIndex(loc[2], w);
  const kern = k.engine.rt.kernel('drand_kspace', source, { WG, SPIKE: true });
  const fixed = intensity !== undefined;
  k.engine.rt.dispatch(
    kern,
    [k.binding(), logStats.binding()],
    params().u32(k.size / 2).u32(d).u32(h).u32(w).u32(flat).u32(channels).u32(fixed ? 1 : 0).f32(u).f32(fixed ? intensity : 0).f32(0),
    grid1D(channels, WG),
  );
  return k;
}

/** MONAI GibbsNoise radius: (1 − α) · max(D, H, W) · √2 / 2. */
export function gibbsRadius(alpha: number, dims: readonly number[]): number {
  return ((1 - alpha) * Math.max(...dims) * Math.SQRT2) / 2;
}

/** Zero K outside radius r of the centre ((n − 1)/2 per axis, in fftshift-ed coordinates). In place; returns k. */
export function gibbsMaskKernel(k: Tensor, r: number): Tensor {
  const { d, h, w } = spectrumDims(k, 'gibbsNoise');
  if (!Number.isFinite(r)) throw new VesselError(`gibbsNoise: radius must be finite, got ${r}`);
  const n = k.size / 2;
  const kern = k.engine.rt.kernel('drand_kspace', source, { WG, SPIKE: false });
  k.engine.rt.dispatch(
    kern,
    [k.binding()],
    params().u32(n).u32(d).u32(h).u32(w).u32(0).u32(0).u32(0).f32(0).f32(0).f32(r < 0 ? -1 : r * r),
    grid1D(n, WG),
  );
  return k;
}
