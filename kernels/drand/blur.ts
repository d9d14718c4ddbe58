// Separable Gaussian filtering with MONAI's erf-sampled kernel (shaders/drand_blur.wgsl), and the 1D convolution
// along one axis it is built from (zero or scipy "reflect" padding).
import source from '../../shaders/drand_blur.wgsl';
import { VesselError } from '../../src/gpu/errors.js';
import { params } from '../../src/runtime/runtime.js';
import { fmtShape, sizeOf } from '../../src/tensor/shape.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { grid1D } from '../util.js';
import { checkFinite, volumeDims } from './common.js';

const WG = 256;

/** erf in float64 (Taylor series below 3, continued fraction of erfc above; error < 1e-14). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax === Infinity) return Math.sign(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))) (Lentz-free backward evaluation).
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/**
 * MONAI gaussian_1d(sigma, truncated, approx="erf", normalize=False): tail = int(max(σ·T, 0.5) + 0.5), weights
 * w(x) = ½ [erf((x + ½)/(σ√2)) − erf((x − ½)/(σ√2))] for x ∈ [−tail, tail], clamped ≥ 0, not renormalised.
 * σ = 0 gives the identity [0, 1, 0].
 */
export function gaussianKernel1d(sigma: number, truncated = 4): Float64Array {
  if (!(sigma >= 0) || !(truncated > 0)) throw new VesselError(`gaussian kernel: sigma ${sigma} must be ≥ 0 and truncated ${truncated} > 0`);
  const tail = Math.floor(Math.max(sigma * truncated, 0.5) + 0.5);
  const w = new Float64Array(2 * tail + 1);
  for (let i = 0; i < w.length; i++) {
    const x = i - tail;
    if (sigma === 0) {
      w[i] = x === 0 ? 1 : 0;
      continue;
    }
    const t = Math.SQRT1_2 / sigma;
    w[i] = Math.max(0, 0.5 * (erf(t * (x + 0.5)) - erf(t * (x - 0.5))));
  }
  return w;
}

function axisOf(x: Tensor, axis: number, what: string): number {
  if (x.dtype !== 'f32') throw new VesselError(`${what}: expected f32, got ${x.dtype} ${fmtShape(x.shape)}`);
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= x.rank) throw new VesselError(`${what}: axis ${axis} out of range for ${fmtShape(x.shape)}`);
  return a;
}

/** 1D convolution of `x` along `axis` with `weights` centred on the middle tap; a new tensor. */
export function convAxis(x: Tensor, axis: number, weights: ArrayLike<number>, pad: 'zeros' | 'reflect' = 'zeros'): Tensor {
  const a = axisOf(x, axis, 'convAxis');
  if (weights.length % 2 !== 1) throw new VesselError(`convAxis: an odd number of weights is needed, got ${weights.length}`);
  checkFinite('convAxis', { weights: Array.from(weights) });
  const e = x.engine;
  const w = e.tensor(Float32Array.from(weights), [weights.length]);
  const out = e.empty(x.shape);
  convWith(x, a, w, pad, out);
  w.dispose();
  return out;
}

function convWith(x: Tensor, a: number, w: Tensor, pad: 'zeros' | 'reflect', out: Tensor): void {
  const k = x.engine.rt.kernel('drand_blur', source, { WG, PAD_REFLECT: pad === 'reflect', WEIGHTS: false });
  x.engine.rt.dispatch(
    k,
    [x.binding(), out.binding(), w.binding()],
    params().u32(x.size).u32(x.shape[a]).u32(sizeOf(x.shape.slice(a + 1))).u32(w.size).u32((w.size - 1) / 2).f32(0),
    grid1D(x.size, WG),
  );
}

/**
 * Convolution along `axis` with MONAI's erf Gaussian kernel of `sigma` (> 0): the weights are computed on the GPU
 * by a one-workgroup kernel (no upload, so the recorded work is not flushed); zero or reflect padding. A new tensor.
 */
export function gaussianAxis(x: Tensor, axis: number, sigma: number, truncated = 4, pad: 'zeros' | 'reflect' = 'zeros'): Tensor {
  const a = axisOf(x, axis, 'gaussianAxis');
  if (!(sigma > 0) || !(truncated > 0) || !Number.isFinite(sigma * truncated)) {
    throw new VesselError(`gaussian kernel: sigma ${sigma} must be > 0 and truncated ${truncated} > 0`);
  }
  const tail = Math.floor(Math.max(sigma * truncated, 0.5) + 0.5);
  const taps = 2 * tail + 1;
  const e = x.engine;
  const w = e.empty([taps]);
  const kw = e.rt.kernel('drand_blur', source, { WG, PAD_REFLECT: false, WEIGHTS: true });
  e.rt.dispatch(kw, [w.binding()], params().u32(0).u32(0).u32(0).u32(taps).u32(tail).f32(sigma), grid1D(taps, WG));
  const out = e.empty(x.shape);
  convWith(x, a, w, pad, out);
  w.dispose();
  return out;
}

/**
 * MONAI GaussianFilter (approx "erf"): separable, one σ per spatial axis [z, y, x] of a [..., D, H, W] volume,
 * zero padding, kernels not renormalised. Axes with σ = 0 are skipped (their kernel is the identity). A new tensor.
 */
export function gaussianFilter(x: Tensor, sigma: readonly [number, number, number], truncated = 4): Tensor {
  volumeDims(x, 'gaussianFilter');
  checkFinite('gaussianFilter', { sigma, truncated });
  for (const s of sigma) if (s < 0) throw new VesselError(`gaussian kernel: sigma ${s} must be ≥ 0`);
  let cur = x;
  for (let i = 0; i < 3; i++) {
    if (sigma[i] === 0) continue;
    const next = gaussianAxis(cur, x.rank - 3 + i, sigma[i], truncated);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  if (cur === x) {
    const copy = x.engine.empty(x.shape);
    x.engine.rt.copy(x.buffer, 0, copy.buffer, 0, x.size * 4);
    return copy;
  }
  return cur;
}
