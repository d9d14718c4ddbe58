// The intensity chain of domain randomisation (spec §4.6, §4.7), every step on the GPU. Each transform takes a
// volume tensor [..., D, H, W] (f32; leading dims are channels sharing the parameters, as in MONAI) and returns a new
// tensor; the input is left untouched. Statistics (min, max, k-space means) stay on the GPU, so a whole chain is
// recorded without a readback. The engine is the tensor's own (x.engine).
import { fftInPlace, fftReal, realPart } from '../../../kernels/fft.js';
import { gaussianFilter } from '../../../kernels/drand/blur.js';
import { volumeDims } from '../../../kernels/drand/common.js';
import { gibbsMaskKernel, gibbsRadius, spikeKernel } from '../../../kernels/drand/kspace.js';
import {
  biasFieldKernel,
  clampKernel,
  combineKernel,
  contrastKernel,
  gaussianNoiseKernel,
  histogramShiftKernel,
  ricianNoiseKernel,
} from '../../../kernels/drand/pointwise.js';
import { stats } from '../../../kernels/drand/reduce.js';
import type { Tensor } from '../../tensor/tensor.js';
import type {
  BiasFieldParams,
  ContrastParams,
  GaussianNoiseParams,
  GibbsParams,
  HistogramShiftParams,
  IntensityParams,
  KSpaceSpikeParams,
  RicianNoiseParams,
  SharpenParams,
  SmoothParams,
} from './params.js';

/** RandBiasField: x · exp(degree-3 Legendre field). */
export function biasField(x: Tensor, p: BiasFieldParams): Tensor {
  return biasFieldKernel(x, p.coeffs);
}

/** RandGaussianNoise: x + N(mean, std²) per voxel (Philox, keyed by p.seed). */
export function gaussianNoise(x: Tensor, p: GaussianNoiseParams): Tensor {
  return gaussianNoiseKernel(x, p.mean, p.std, p.seed);
}

/**
 * RandKSpaceSpikeNoise (channel-wise): K = fftn(x) over D, H, W; at fftshift-ed position p.loc set
 * log|K| = v keeping the phase (v from p.intensity, else U(0.95 m, 1.1 m) with m = 2.5 mean(log(|K| + 1e-10)) of the
 * channel); x ← Re(ifftn(K)). The +1e-10 that MONAI's exp(log(|K| + 1e-10)) adds to every other amplitude is below
 * f32 resolution and is not applied.
 */
export function kspaceSpike(x: Tensor, p: KSpaceSpikeParams): Tensor {
  const { channels } = volumeDims(x, 'kspaceSpike');
  const e = x.engine;
  return e.scope(() => {
    const k = fftReal(x);
    const st = stats(k, { logAbs: true, segments: channels });
    spikeKernel(k, p.loc, p.u, st, p.intensity);
    fftInPlace(k, { inverse: true });
    return realPart(k);
  });
}

/** RandAdjustContrast: ((x − min)/(range + 1e-7))^γ · range + min, min and range over the whole tensor. */
export function adjustContrast(x: Tensor, p: ContrastParams): Tensor {
  volumeDims(x, 'adjustContrast');
  return x.engine.scope(() => contrastKernel(x, stats(x), p.gamma));
}

/** (Rand)GaussianSmooth: MONAI GaussianFilter with σ per axis [z, y, x], erf kernel, zero padding. */
export function gaussianSmooth(x: Tensor, p: SmoothParams): Tensor {
  return gaussianFilter(x, p.sigma, p.truncated ?? 4);
}

/** RandRicianNoise: sqrt((x + n1)² + n2²), n1, n2 ~ N(mean, std²) per voxel (Philox, keyed by p.seed). */
export function ricianNoise(x: Tensor, p: RicianNoiseParams): Tensor {
  return ricianNoiseKernel(x, p.mean, p.std, p.seed);
}

/** RandGibbsNoise: zero k-space beyond r = (1 − α) max(D, H, W) √2/2 of the shifted centre; x ← Re(ifftn). */
export function gibbsNoise(x: Tensor, p: GibbsParams): Tensor {
  const { d, h, w } = volumeDims(x, 'gibbsNoise');
  return x.engine.scope(() => {
    const k = fftReal(x);
    gibbsMaskKernel(k, gibbsRadius(p.alpha, [d, h, w]));
    fftInPlace(k, { inverse: true });
    return realPart(k);
  });
}

/** RandGaussianSharpen: b = G_σ1(x); x ← b + α (b − G_σ2(b)). */
export function gaussianSharpen(x: Tensor, p: SharpenParams): Tensor {
  return x.engine.scope(() => {
    const b1 = gaussianFilter(x, p.sigma1);
    const b2 = gaussianFilter(b1, p.sigma2);
    return combineKernel(b1, b2, 1 + p.alpha, -p.alpha);
  });
}

/** RandHistogramShift: piecewise-linear map between control points scaled to [min x, max x]. */
export function histogramShift(x: Tensor, p: HistogramShiftParams): Tensor {
  volumeDims(x, 'histogramShift');
  return x.engine.scope(() => histogramShiftKernel(x, stats(x), p.floating));
}

/** clamp(x, lo, hi). */
export function clampVolume(x: Tensor, lo = 0, hi = 1): Tensor {
  return clampKernel(x, lo, hi);
}

/** The chain's steps in upstream order (spec §4.6), each with the transform that applies it. */
export const INTENSITY_STEPS = [
  ['biasField', biasField],
  ['gaussianNoise', gaussianNoise],
  ['kspaceSpike', kspaceSpike],
  ['contrast', adjustContrast],
  ['smooth', gaussianSmooth],
  ['rician', ricianNoise],
  ['gibbs', gibbsNoise],
  ['sharpen', gaussianSharpen],
  ['histogramShift', histogramShift],
] as const satisfies readonly (readonly [keyof IntensityParams, (x: Tensor, p: never) => Tensor])[];

/**
 * Run the whole intensity chain of one sample: every step whose parameters are not null, in order, then the final
 * clamp to [0, 1] (unless `clamp` is false). `onStep` sees each intermediate (for previews); it must not keep it.
 * Returns a new tensor; intermediates are disposed.
 */
export function applyIntensity(
  x: Tensor,
  p: IntensityParams,
  opts: { clamp?: boolean; onStep?: (name: string, y: Tensor) => void } = {},
): Tensor {
  volumeDims(x, 'intensity chain');
  let cur = x;
  for (const [name, fn] of INTENSITY_STEPS) {
    const q = p[name];
    if (q === null) continue;
    const next = (fn as (x: Tensor, p: unknown) => Tensor)(cur, q);
    if (cur !== x) cur.dispose();
    cur = next;
    opts.onStep?.(name, cur);
  }
  if (opts.clamp === false) {
    if (cur !== x) return cur;
    const copy = x.engine.empty(x.shape);
    x.engine.rt.copy(x.buffer, 0, copy.buffer, 0, x.size * 4);
    return copy;
  }
  const out = clampKernel(cur, 0, 1);
  if (cur !== x) cur.dispose();
  opts.onStep?.('clamp', out);
  return out;
}
