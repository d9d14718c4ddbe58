// Label (mould) spatial transforms of domain randomisation (spec §4.4), on the GPU, in upstream's order:
// random crop, flips (axes 0, 1, 2; p 0.5 each), rot90 in planes (0,1), (0,2), (1,2) (p 0.5 each, k ∈ {1, 2, 3}),
// 26-neighbourhood dilation (p 0.1), nearest zoom z ~ U(1, 2) keeping the size (p 0.4), 3D elastic deformation
// (p 0.3; σ ~ U(15, 20), magnitude ~ U(2500, 5000) at 128³) and binary smoothing (p 0.9; scipy Gaussian σ 1,
// truncate 4, reflect, then > 0.2).
//
// Everything up to the elastic field is one gather (kernels/drand/spatial.ts): the flips and rot90s (and an optional
// arbitrary rotation beyond upstream) are composed with gl-matrix into one affine from the output grid back to the
// crop window; the zoom keeps torch's floor-based nearest indexing between the elastic position and that affine, and
// dilation is the 26-neighbourhood maximum in the crop window (it commutes with flips and rot90s, which map the
// window and the neighbourhood onto themselves). The label is resampled once.
//
// At sizes other than 128³ the elastic σ scales with n/128 and the magnitude with (n/128)^2.5, so that the
// displacements (∝ magnitude · σ^−1.5) scale with the volume.
import { mat4 } from 'gl-matrix';
import { gaussianFilter } from '../../../kernels/drand/blur.js';
import { convAxis } from '../../../kernels/drand/blur.js';
import { gatherLabel, thresholdKernel, type GatherSpec } from '../../../kernels/drand/spatial.js';
import { uniform } from '../../../kernels/random.js';
import { VesselError } from '../../gpu/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ParamRng, Vec3 } from './params.js';

export interface ElasticParams {
  sigma: number;
  magnitude: number;
  seed: number;
}

export interface RotationParams {
  /** Rotation axis in (z, y, x) coordinates (need not be unit length). */
  axis: Vec3;
  /** Angle in radians. */
  angle: number;
}

export interface SpatialParams {
  /** Crop window start in the mould. */
  crop: Vec3;
  flips: [boolean, boolean, boolean];
  /** rot90 counts k for planes (0,1), (0,2), (1,2); 0 = not applied. */
  rot90: [number, number, number];
  dilate: boolean;
  /** Isotropic zoom factor, or null. */
  zoom: number | null;
  elastic: ElasticParams | null;
  /** Optional arbitrary rotation after the rot90s (beyond upstream; off unless asked for). */
  rotation: RotationParams | null;
  binarySmooth: boolean;
}

export const SPATIAL_CONFIG = {
  pFlip: 0.5,
  pRot90: 0.5,
  pDilate: 0.1,
  zoom: { p: 0.4, range: [1, 2] as const },
  elastic: { p: 0.3, sigma: [15, 20] as const, magnitude: [2500, 5000] as const },
  binarySmooth: { p: 0.9, sigma: 1, truncate: 4, threshold: 0.2 },
};

export interface SpatialOptions {
  /** Probability of an arbitrary rotation (default 0, as upstream); angle U(−maxAngle, maxAngle) about a random axis. */
  pRotate?: number;
  maxAngle?: number;
}

/**
 * Draw the label transforms of one sample: output shape [n, n, n] cropped from a mould of shape `mould`. Every
 * parameter is drawn whether or not its gate opens, so gates do not shift other draws.
 */
export function sampleSpatial(rng: ParamRng, mould: Vec3, n: number, opts: SpatialOptions = {}): SpatialParams {
  const c = SPATIAL_CONFIG;
  if (mould.some((m) => m < n)) throw new VesselError(`label transform: mould [${mould.join(', ')}] is smaller than the ${n}³ crop`);
  const crop: Vec3 = [rng.randint(0, mould[0] - n), rng.randint(0, mould[1] - n), rng.randint(0, mould[2] - n)];
  const flips: [boolean, boolean, boolean] = [rng.bernoulli(c.pFlip), rng.bernoulli(c.pFlip), rng.bernoulli(c.pFlip)];
  const rot90 = [0, 1, 2].map(() => {
    const on = rng.bernoulli(c.pRot90);
    const k = rng.randint(1, 3);
    return on ? k : 0;
  }) as [number, number, number];
  const dilate = rng.bernoulli(c.pDilate);
  const zoomOn = rng.bernoulli(c.zoom.p);
  const zoom = rng.uniform(c.zoom.range[0], c.zoom.range[1]);
  const f = n / 128;
  const elOn = rng.bernoulli(c.elastic.p);
  const elastic: ElasticParams = {
    sigma: rng.uniform(c.elastic.sigma[0], c.elastic.sigma[1]) * f,
    magnitude: rng.uniform(c.elastic.magnitude[0], c.elastic.magnitude[1]) * f ** 2.5,
    seed: rng.seedInt(),
  };
  const rotOn = rng.bernoulli(opts.pRotate ?? 0);
  const maxAngle = opts.maxAngle ?? Math.PI;
  const axis: Vec3 = [rng.normal(), rng.normal(), rng.normal()];
  const angle = rng.uniform(-maxAngle, maxAngle);
  const smooth = rng.bernoulli(c.binarySmooth.p);
  return {
    crop,
    flips,
    rot90,
    dilate,
    zoom: zoomOn ? zoom : null,
    elastic: elOn ? elastic : null,
    rotation: rotOn ? { axis, angle } : null,
    binarySmooth: smooth,
  };
}

/** The identity transform (crop at `crop`, nothing else). */
export function identitySpatial(crop: Vec3 = [0, 0, 0]): SpatialParams {
  return { crop, flips: [false, false, false], rot90: [0, 0, 0], dilate: false, zoom: null, elastic: null, rotation: null, binarySmooth: false };
}

// gl-matrix works on (x, y, z) vectors; here its components 0, 1, 2 are array axes 0, 1, 2 (z, y, x).
function setRC(m: mat4, r: number, c: number, v: number): void {
  m[c * 4 + r] = v;
}

/** Inverse map of torch.rot90(k = 1) in plane (a, b), centred coordinates: src_a = out_b, src_b = −out_a. */
function rot90Inverse(a: number, b: number): mat4 {
  const m = mat4.create();
  setRC(m, a, a, 0);
  setRC(m, b, b, 0);
  setRC(m, a, b, 1);
  setRC(m, b, a, -1);
  return m;
}

/**
 * The affine (row-major 3×4) from voxel r of the flipped/rotated n³ volume back to crop-window coordinates:
 * c = F⁻¹ R₀₁⁻¹ R₀₂⁻¹ R₁₂⁻¹ Rot⁻¹ (r − ctr) + ctr with ctr = (n − 1)/2, composed with gl-matrix. For flips and
 * rot90s every entry is an integer or a half-integer, so the map is exact in f32.
 */
export function labelAffine(p: Pick<SpatialParams, 'flips' | 'rot90' | 'rotation'>, shape: Vec3): number[] {
  const ctr = shape.map((s) => (s - 1) / 2) as Vec3;
  const m = mat4.create();
  mat4.fromTranslation(m, ctr);
  // Applied to r in the reverse order of the forward transforms: flips first in this product (outermost).
  const flip = mat4.create();
  for (let a = 0; a < 3; a++) setRC(flip, a, a, p.flips[a] ? -1 : 1);
  mat4.multiply(m, m, flip);
  const planes: [number, number][] = [
    [0, 1],
    [0, 2],
    [1, 2],
  ];
  planes.forEach(([a, b], i) => {
    const q = rot90Inverse(a, b);
    for (let k = 0; k < p.rot90[i]; k++) mat4.multiply(m, m, q);
  });
  if (p.rotation) {
    const rot = mat4.create();
    const ax = p.rotation.axis;
    if (!(Math.hypot(...ax) > 0)) throw new VesselError('label transform: rotation axis must be non-zero');
    // The inverse of the forward rotation: the same axis, the opposite angle.
    mat4.fromRotation(rot, -p.rotation.angle, ax);
    mat4.multiply(m, m, rot);
  }
  const back = mat4.create();
  mat4.fromTranslation(back, [-ctr[0], -ctr[1], -ctr[2]]);
  mat4.multiply(m, m, back);
  const out: number[] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) out.push(m[c * 4 + r]);
  return out;
}

/**
 * torch nearest zoom to floor(n z) voxels (recompute_scale_factor) then MONAI's centre crop back to n: per axis the
 * crop start L//2 − n//2 and the f32 scale n / L used by src = min(floor(dst · scale), n − 1).
 */
export function zoomGeometry(zoom: number, shape: Vec3): { start: Vec3; scale: Vec3; size: Vec3 } {
  if (!(zoom >= 1)) throw new VesselError(`label transform: zoom ${zoom} must be ≥ 1 (keep_size crops)`);
  const size = shape.map((n) => Math.floor(n * zoom)) as Vec3;
  return {
    size,
    start: size.map((L, a) => Math.floor(L / 2) - Math.floor(shape[a] / 2)) as Vec3,
    scale: size.map((L, a) => Math.fround(shape[a] / L)) as Vec3,
  };
}

/** scipy.ndimage Gaussian weights: exp(−x²/2σ²) for |x| ≤ int(truncate σ + 0.5), normalised to sum 1. */
export function scipyGaussianWeights(sigma: number, truncate: number): Float64Array {
  const r = Math.floor(truncate * sigma + 0.5);
  const w = new Float64Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += w[i + r] = Math.exp((-0.5 * i * i) / (sigma * sigma));
  for (let i = 0; i < w.length; i++) w[i] /= s;
  return w;
}

/** RandBinarySmooth's step: scipy gaussian_filter (σ 1, truncate 4, reflect) on a 0/1 label, then > 0.2. */
export function binarySmooth(label: Tensor, sigma = 1, truncate = 4, threshold = 0.2): Tensor {
  const e = label.engine;
  const w = scipyGaussianWeights(sigma, truncate);
  return e.scope(() => {
    let cur = label;
    for (let a = 0; a < 3; a++) cur = convAxis(cur, label.rank - 3 + a, w, 'reflect');
    return thresholdKernel(cur, threshold);
  });
}

/** The smoothed elastic displacement field f32 [3, D, H, W]: U(−1, 1) per voxel and axis, MONAI Gaussian (truncate 3). */
export function elasticField(e: Tensor['engine'], shape: Vec3, p: ElasticParams): Tensor {
  return e.scope(() => {
    const raw = uniform(e, [3, ...shape], -1, 1, p.seed);
    return gaussianFilter(raw, [p.sigma, p.sigma, p.sigma], 3);
  });
}

/**
 * Apply the label transforms to a u8 mould on the GPU: the transformed label f32 [n, n, n] (0/1). `onStage` sees the
 * label after the resampling and after binary smoothing (previews).
 */
export function applySpatial(mould: Tensor, p: SpatialParams, n: number, onStage?: (name: string, y: Tensor) => void): Tensor {
  const e = mould.engine;
  const shape: Vec3 = [n, n, n];
  return e.scope(() => {
    const z = p.zoom !== null ? zoomGeometry(p.zoom, shape) : null;
    const disp = p.elastic ? elasticField(e, shape, p.elastic) : null;
    const spec: GatherSpec = {
      shape,
      crop: p.crop,
      affine: labelAffine(p, shape),
      zoom: z ? { start: z.start, scale: z.scale } : null,
      dilate: p.dilate,
      elastic: disp && p.elastic ? { disp, magnitude: p.elastic.magnitude } : null,
    };
    let label = gatherLabel(mould, spec);
    onStage?.('resampled', label);
    if (p.binarySmooth) {
      const c = SPATIAL_CONFIG.binarySmooth;
      label = binarySmooth(label, c.sigma, c.truncate, c.threshold);
      onStage?.('binarySmooth', label);
    }
    return label;
  });
}
