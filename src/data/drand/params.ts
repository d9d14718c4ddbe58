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

// ---------------------------------------------------------------------------------------------------------------
// Backgrounds (§4.3).

export type GeometryKind = 'none' | 'spheres' | 'voronoi';
/** value: upstream's multi-octave value noise ("Perlin" in gen_bg.py); perlin: true gradient noise; plain: constant. */
export type TextureKind = 'value' | 'perlin' | 'plain';

export interface Sphere {
  c: Vec3;
  r: number;
}

export interface PerlinParams {
  /** Lattice cells per voxel of the first octave (1 / period). */
  frequency: number;
  octaves: number;
  /** Amplitude ratio between successive octaves. */
  persistence: number;
  /** Frequency ratio between successive octaves. */
  lacunarity: number;
}

export interface BackgroundParams {
  geometry: GeometryKind;
  /** Accepted spheres, labelled 1, 2, … in order (region 0 is outside them). */
  spheres: Sphere[];
  /** Voronoi seeds (voxel coordinates [z, y, x]), labelled 0, 1, … */
  seeds: Vec3[];
  texture: TextureKind;
  /** Per region: the U(0, 1) intensity scale. */
  scale: number[];
  /** Per region: the U(0, 1) constant of the plain texture. */
  plain: number[];
  /** Value noise: the octave scales s (grid ceil(n / s) per axis). */
  valueScales: number[];
  /** Per (region, octave), region-major: value-noise σ_s ~ U(0, 5), or Perlin amplitudes persistence^o. */
  amp: number[];
  perlin: PerlinParams;
  /** Philox seed of the noise grids and lattices. */
  seed: number;
}

export function regionCount(p: Pick<BackgroundParams, 'geometry' | 'spheres' | 'seeds'>): number {
  return p.geometry === 'none' ? 1 : p.geometry === 'spheres' ? p.spheres.length + 1 : p.seeds.length;
}

/** Upstream's background recipe and ranges (gen_bg.py __main__, d_drand/README.md). */
export const BACKGROUND_CONFIG = {
  /** [none + noise, voronoi + noise, spheres + noise, none + plain]: 20k, 10k, 10k, 10k of 50k. */
  mix: [0.4, 0.2, 0.2, 0.2],
  count: [10, 30] as const,
  /** Sphere radii at 128³ (scaled by min(shape)/128 for other sizes). */
  radius: [20, 50] as const,
  maxAttempts: 1000,
  valueScales: [2, 4, 8, 16, 32, 64],
  sigmaMax: 5,
};

function isqrt(q: number): number {
  let s = Math.floor(Math.sqrt(q));
  while (s * s > q) s--;
  while ((s + 1) * (s + 1) <= q) s++;
  return s;
}

/** Whether two balls (integer centres and radii) contain a common integer voxel. */
export function ballsShareVoxel(a: Sphere, b: Sphere): boolean {
  const d2 = (a.c[0] - b.c[0]) ** 2 + (a.c[1] - b.c[1]) ** 2 + (a.c[2] - b.c[2]) ** 2;
  if (d2 > (a.r + b.r) ** 2) return false;
  const z0 = Math.max(a.c[0] - a.r, b.c[0] - b.r);
  const z1 = Math.min(a.c[0] + a.r, b.c[0] + b.r);
  const y0 = Math.max(a.c[1] - a.r, b.c[1] - b.r);
  const y1 = Math.min(a.c[1] + a.r, b.c[1] + b.r);
  for (let z = z0; z <= z1; z++)
    for (let y = y0; y <= y1; y++) {
      const qa = a.r * a.r - (z - a.c[0]) ** 2 - (y - a.c[1]) ** 2;
      const qb = b.r * b.r - (z - b.c[0]) ** 2 - (y - b.c[1]) ** 2;
      if (qa < 0 || qb < 0) continue;
      const sa = isqrt(qa);
      const sb = isqrt(qb);
      if (Math.max(a.c[2] - sa, b.c[2] - sb) <= Math.min(a.c[2] + sa, b.c[2] + sb)) return true;
    }
  return false;
}

/**
 * Non-overlapping spheres as gen_bg.py places them: target count randint(10, 30); each attempt (at most 1,000) draws
 * r = randint(r0, r1) and a centre randint(r, n − 1 − r) per axis, accepted when it shares no voxel with an accepted
 * sphere. Radii scale with min(shape)/128 (20–50 at 128³).
 */
export function sampleSpheres(rng: ParamRng, shape: Vec3): Sphere[] {
  const c = BACKGROUND_CONFIG;
  const target = rng.randint(c.count[0], c.count[1]);
  const s = Math.min(...shape) / 128;
  const rMax = Math.max(0, Math.min(Math.round(c.radius[1] * s), Math.floor((Math.min(...shape) - 1) / 2)));
  const rMin = Math.min(rMax, Math.max(1, Math.round(c.radius[0] * s)));
  const out: Sphere[] = [];
  for (let attempt = 0; attempt < c.maxAttempts && out.length < target; attempt++) {
    const r = rng.randint(rMin, rMax);
    const cand: Sphere = { r, c: [rng.randint(r, shape[0] - 1 - r), rng.randint(r, shape[1] - 1 - r), rng.randint(r, shape[2] - 1 - r)] };
    if (out.every((o) => !ballsShareVoxel(o, cand))) out.push(cand);
  }
  return out;
}

/**
 * randint(10, 30) Voronoi seeds uniform in [0, n) per axis, on a 1/16-voxel grid so that squared distances are
 * exact in f32 and the GPU's nearest-seed labels equal a float64 reference's.
 */
export function sampleVoronoiSeeds(rng: ParamRng, shape: Vec3): Vec3[] {
  const c = BACKGROUND_CONFIG;
  const n = rng.randint(c.count[0], c.count[1]);
  const q = (len: number) => Math.floor(rng.uniform(0, len) * 16) / 16;
  return Array.from({ length: n }, () => [q(shape[0]), q(shape[1]), q(shape[2])] as Vec3);
}

/**
 * Perlin-noise settings of one background: period U(16, 64)·min(shape)/128 voxels (at least 2), 3–6 octaves but none
 * finer than 2 voxels per period (the Nyquist limit), persistence U(0.35, 0.65), lacunarity 2.
 */
export function samplePerlin(rng: ParamRng, shape: Vec3): PerlinParams {
  const frequency = 1 / Math.max(rng.uniform(16, 64) * (Math.min(...shape) / 128), 2);
  const nyquist = Math.floor(Math.log2(0.5 / frequency) + 1e-9) + 1;
  return { frequency, octaves: Math.max(1, Math.min(rng.randint(3, 6), nyquist)), persistence: rng.uniform(0.35, 0.65), lacunarity: 2 };
}

export interface BackgroundOptions {
  /** Weights of [none + noise, voronoi + noise, spheres + noise, none + plain] (default upstream's 2:1:1:1). */
  mix?: readonly number[];
  /** Probability that a noise texture is true gradient (Perlin) noise instead of upstream's value noise (default 0). */
  pGradient?: number;
  /** Force a geometry and texture (previews, tests). */
  geometry?: GeometryKind;
  texture?: TextureKind;
}

/** Draw one background of spatial shape [D, H, W] following upstream's recipe (or the forced kinds). */
export function sampleBackground(rng: ParamRng, shape: Vec3, opts: BackgroundOptions = {}): BackgroundParams {
  const kind = rng.choice(opts.mix ?? BACKGROUND_CONFIG.mix);
  let geometry: GeometryKind = (['none', 'voronoi', 'spheres', 'none'] as const)[kind];
  let texture: TextureKind = kind === 3 ? 'plain' : 'value';
  const gradient = rng.bernoulli(opts.pGradient ?? 0);
  if (texture === 'value' && gradient) texture = 'perlin';
  geometry = opts.geometry ?? geometry;
  texture = opts.texture ?? texture;
  const spheres = geometry === 'spheres' ? sampleSpheres(rng, shape) : [];
  const seeds = geometry === 'voronoi' ? sampleVoronoiSeeds(rng, shape) : [];
  const regions = regionCount({ geometry, spheres, seeds });
  const perlin = samplePerlin(rng, shape);
  const valueScales = [...BACKGROUND_CONFIG.valueScales];
  const amp: number[] = [];
  for (let r = 0; r < regions; r++) {
    if (texture === 'perlin') for (let o = 0; o < perlin.octaves; o++) amp.push(perlin.persistence ** o);
    else if (texture === 'value') for (let o = 0; o < valueScales.length; o++) amp.push(rng.uniform(0, BACKGROUND_CONFIG.sigmaMax));
  }
  const scale = Array.from({ length: regions }, () => rng.next());
  const plain = texture === 'plain' ? Array.from({ length: regions }, () => rng.next()) : [];
  return { geometry, spheres, seeds, texture, scale, plain, valueScales, amp, perlin, seed: rng.seedInt() };
}
