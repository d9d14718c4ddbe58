// Per-sample scalar parameters of domain randomisation (spec §4.3, §4.6, §4.7), drawn on the CPU from a seeded
// counter-based generator, so that one seed always gives the same parameters. Per-voxel randomness is drawn on the
// GPU from Philox keyed by the integer seeds these samplers hand out.
import { philoxCpu, seedKey } from '../../../kernels/random.js';
import { VesselError } from '../../gpu/errors.js';

const TWO32 = 4294967296;

/**
 * A seeded CPU random generator for scalar parameters: Philox4x32-10 with key = seed and counter = (n, stream),
 * so that a (seed, stream) pair is a reproducible, independent stream; `fork(tag)` gives a child stream.
 */
export class ParamRng {
  private n = 0;
  private words: Uint32Array = new Uint32Array(4);
  private lane = 4;
  private readonly key: [number, number];

  constructor(
    readonly seed: number,
    readonly stream = 0,
  ) {
    this.key = seedKey(seed);
  }

  /** A raw 32-bit word. */
  word(): number {
    if (this.lane === 4) {
      this.words = philoxCpu([this.n % TWO32, Math.floor(this.n / TWO32), this.stream >>> 0, 0x5eed], this.key);
      this.n++;
      this.lane = 0;
    }
    return this.words[this.lane++];
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.word() >>> 5;
    const lo = this.word() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi) (lo + (hi − lo) u, also when hi < lo, like numpy). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer uniform in [lo, hi], both inclusive. */
  randint(lo: number, hi: number): number {
    if (hi < lo) throw new VesselError(`randint: empty range [${lo}, ${hi}]`);
    return lo + Math.min(hi - lo, Math.floor(this.next() * (hi - lo + 1)));
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller in float64). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** An index drawn with the given (unnormalised) weights, like python's random.choices. */
  choice(weights: readonly number[]): number {
    const total = weights.reduce((a, b) => a + b, 0);
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  /** A fresh 52-bit integer seed for the GPU's Philox streams. */
  seedInt(): number {
    return (this.word() & 0xfffff) * TWO32 + this.word();
  }

  /** An independent child generator (same seed, another stream), e.g. one per sample or per stage. */
  fork(tag: number): ParamRng {
    return new ParamRng(this.seed, (Math.imul(this.stream ^ 0x9e3779b9, 0x85ebca6b) ^ (tag >>> 0)) >>> 0);
  }
}

export type Vec3 = [number, number, number];

// ---------------------------------------------------------------------------------------------------------------
// Intensity transforms (§4.6) and their upstream ranges.

/** RandBiasField: 20 Legendre coefficients c_ijk (i + j + k ≤ 3) in lexicographic order of (i, j, k). */
export interface BiasFieldParams {
  coeffs: number[];
}
/** RandGaussianNoise: x + N(mean, std²) per voxel; `seed` keys the GPU's Philox stream. */
export interface GaussianNoiseParams {
  mean: number;
  std: number;
  seed: number;
}
/**
 * RandKSpaceSpikeNoise at one k-space location `loc` (in fftshift-ed coordinates, [z, y, x]). The log-amplitude
 * set there is `intensity` when given, else m (0.95 + 0.15 u) with m = 2.5 mean(log(|K| + 1e-10)) per channel, i.e.
 * U(0.95 m, 1.1 m) as MONAI draws it when intensity_range is None.
 */
export interface KSpaceSpikeParams {
  loc: Vec3;
  u: number;
  intensity?: number;
}
/** RandAdjustContrast: ((x − min)/(range + 1e-7))^gamma · range + min. */
export interface ContrastParams {
  gamma: number;
}
/** Gaussian smoothing with MONAI's erf kernel, one σ per spatial axis [z, y, x] (0 = identity on that axis). */
export interface SmoothParams {
  sigma: Vec3;
  truncated?: number;
}
/** RandRicianNoise: sqrt((x + n1)² + n2²), n1, n2 ~ N(mean, std²); `seed` keys the GPU's Philox stream. */
export interface RicianNoiseParams {
  mean: number;
  std: number;
  seed: number;
}
/** RandGibbsNoise: keep k-space within r = (1 − alpha) max(shape) √2 / 2 of the centre. */
export interface GibbsParams {
  alpha: number;
}
/** RandGaussianSharpen: b = G_σ1(x); x ← b + alpha (b − G_σ2(b)). */
export interface SharpenParams {
  sigma1: Vec3;
  sigma2: Vec3;
  alpha: number;
}
/** RandHistogramShift: floating control points for reference points linspace(0, 1, n), both in [0, 1]. */
export interface HistogramShiftParams {
  floating: number[];
}

/** The intensity chain of one sample: each step is null when its probability gate skipped it. */
export interface IntensityParams {
  biasField: BiasFieldParams | null;
  gaussianNoise: GaussianNoiseParams | null;
  kspaceSpike: KSpaceSpikeParams | null;
  contrast: ContrastParams | null;
  smooth: SmoothParams | null;
  rician: RicianNoiseParams | null;
  gibbs: GibbsParams | null;
  sharpen: SharpenParams | null;
  histogramShift: HistogramShiftParams | null;
}

/** Upstream probabilities and ranges (spec §4.6). */
export const INTENSITY_CONFIG = {
  biasField: { p: 0.7, coeffRange: [-0.2, 0.2] as const, degree: 3 },
  gaussianNoise: { p: 0.6, mean: 0, stdMax: 0.25 },
  kspaceSpike: { p: 0.2 },
  contrast: { p: 0.2, gamma: [0.5, 1.5] as const },
  smooth: { p: 0.9, pIsotropic: 0.7, isoSigma: [0.25, 1.5] as const, axisSigma: [0, 2] as const },
  rician: { p: 0.2, mean: 0, stdMax: 0.1 },
  gibbs: { p: 0.1, alpha: [0, 0.75] as const },
  sharpen: { p: 0.2, sigma1: [0.5, 1.0] as const, sigma2Min: 0.5, alpha: [10, 20] as const },
  histogramShift: { p: 0.1, points: [10, 25] as const },
};

/** Number of Legendre coefficients of a 3D polynomial of total degree ≤ d: C(d + 3, 3). */
export function legendreCount(degree: number): number {
  return ((degree + 1) * (degree + 2) * (degree + 3)) / 6;
}

/** (i, j, k) with i + j + k ≤ degree, in lexicographic order: the coefficient order of BiasFieldParams. */
export function legendreTerms(degree = 3): Vec3[] {
  const t: Vec3[] = [];
  for (let i = 0; i <= degree; i++) for (let j = 0; j <= degree - i; j++) for (let k = 0; k <= degree - i - j; k++) t.push([i, j, k]);
  return t;
}

export function sampleBiasField(rng: ParamRng, range: readonly [number, number] = INTENSITY_CONFIG.biasField.coeffRange): BiasFieldParams {
  return { coeffs: Array.from({ length: legendreCount(3) }, () => rng.uniform(range[0], range[1])) };
}

export function sampleGaussianNoise(rng: ParamRng, stdMax = INTENSITY_CONFIG.gaussianNoise.stdMax, mean = 0): GaussianNoiseParams {
  return { mean, std: rng.uniform(0, stdMax), seed: rng.seedInt() };
}

export function sampleKSpaceSpike(rng: ParamRng, shape: Vec3): KSpaceSpikeParams {
  return { loc: [rng.randint(0, shape[0] - 1), rng.randint(0, shape[1] - 1), rng.randint(0, shape[2] - 1)], u: rng.next() };
}

export function sampleContrast(rng: ParamRng): ContrastParams {
  const g = INTENSITY_CONFIG.contrast.gamma;
  return { gamma: rng.uniform(g[0], g[1]) };
}

/** vesselFM's RandGaussianSmoothSigmaMod: isotropic σ ~ U(0.25, 1.5) with p 0.7, else per-axis σ ~ U(0, 2). */
export function sampleSmooth(rng: ParamRng): SmoothParams {
  const c = INTENSITY_CONFIG.smooth;
  if (rng.bernoulli(c.pIsotropic)) {
    const s = rng.uniform(c.isoSigma[0], c.isoSigma[1]);
    return { sigma: [s, s, s] };
  }
  const a = c.axisSigma;
  return { sigma: [rng.uniform(a[0], a[1]), rng.uniform(a[0], a[1]), rng.uniform(a[0], a[1])] };
}

export function sampleRician(rng: ParamRng): RicianNoiseParams {
  return { mean: 0, std: rng.uniform(0, INTENSITY_CONFIG.rician.stdMax), seed: rng.seedInt() };
}

export function sampleGibbs(rng: ParamRng): GibbsParams {
  const a = INTENSITY_CONFIG.gibbs.alpha;
  return { alpha: rng.uniform(a[0], a[1]) };
}

/** σ1 per axis ~ U(0.5, 1.0), σ2 per axis ~ U(0.5, σ1 of that axis), α ~ U(10, 20) (MONAI's draw order). */
export function sampleSharpen(rng: ParamRng): SharpenParams {
  const c = INTENSITY_CONFIG.sharpen;
  const sigma1: Vec3 = [rng.uniform(c.sigma1[0], c.sigma1[1]), rng.uniform(c.sigma1[0], c.sigma1[1]), rng.uniform(c.sigma1[0], c.sigma1[1])];
  const sigma2: Vec3 = [rng.uniform(c.sigma2Min, sigma1[0]), rng.uniform(c.sigma2Min, sigma1[1]), rng.uniform(c.sigma2Min, sigma1[2])];
  return { sigma1, sigma2, alpha: rng.uniform(c.alpha[0], c.alpha[1]) };
}

/**
 * n = randint(10, 25) control points; floating = linspace(0, 1, n) with each interior point i = 1 … n−2 in turn
 * drawn U(fp[i−1], fp[i+1]) from the already-updated left neighbour.
 */
export function sampleHistogramShift(rng: ParamRng, points = INTENSITY_CONFIG.histogramShift.points): HistogramShiftParams {
  const n = rng.randint(points[0], points[1]);
  const fp = Array.from({ length: n }, (_, i) => i / (n - 1));
  for (let i = 1; i < n - 1; i++) fp[i] = rng.uniform(fp[i - 1], fp[i + 1]);
  return { floating: fp };
}

/** Draw the whole intensity chain of one sample of spatial shape [D, H, W], with upstream's probability gates. */
export function sampleIntensity(rng: ParamRng, shape: Vec3): IntensityParams {
  const c = INTENSITY_CONFIG;
  // Every gate and every parameter is drawn, taken or not, so that one step's gate does not shift another's draws.
  const gate = (p: number) => rng.bernoulli(p);
  const pick = <T>(p: number, draw: () => T): T | null => {
    const on = gate(p);
    const v = draw();
    return on ? v : null;
  };
  return {
    biasField: pick(c.biasField.p, () => sampleBiasField(rng)),
    gaussianNoise: pick(c.gaussianNoise.p, () => sampleGaussianNoise(rng)),
    kspaceSpike: pick(c.kspaceSpike.p, () => sampleKSpaceSpike(rng, shape)),
    contrast: pick(c.contrast.p, () => sampleContrast(rng)),
    smooth: pick(c.smooth.p, () => sampleSmooth(rng)),
    rician: pick(c.rician.p, () => sampleRician(rng)),
    gibbs: pick(c.gibbs.p, () => sampleGibbs(rng)),
    sharpen: pick(c.sharpen.p, () => sampleSharpen(rng)),
    histogramShift: pick(c.histogramShift.p, () => sampleHistogramShift(rng)),
  };
}

/** Every step switched on (for previews, tests and benchmarks of the whole chain). */
export function sampleIntensityAll(rng: ParamRng, shape: Vec3): IntensityParams {
  return {
    biasField: sampleBiasField(rng),
    gaussianNoise: sampleGaussianNoise(rng),
    kspaceSpike: sampleKSpaceSpike(rng, shape),
    contrast: sampleContrast(rng),
    smooth: sampleSmooth(rng),
    rician: sampleRician(rng),
    gibbs: sampleGibbs(rng),
    sharpen: sampleSharpen(rng),
    histogramShift: sampleHistogramShift(rng),
  };
}
