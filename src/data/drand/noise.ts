// Noise textures on the GPU: upstream's multi-octave value noise (gen_bg.py's "Perlin": N(0, σ_s²) grids of
// ceil(n / s) points per axis, upsampled trilinearly with align_corners False, summed and min-max normalised) and
// true 3D gradient noise (improved Perlin: quintic fade, 12 edge gradients hashed per lattice point with Philox,
// octaves with persistence and lacunarity). Both are pure functions of their parameters and seed.
import { backgroundKernel, type BackgroundSpec } from '../../../kernels/drand/background.js';
import type { Engine } from '../../engine.js';
import { VesselError } from '../../gpu/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { PerlinParams, Vec3 } from './params.js';

/** Value-noise octave grids: ceil(n / s) points per axis for each scale s. */
export function valueOctaves(shape: Vec3, scales: readonly number[]): BackgroundSpec['octaves'] {
  return scales.map((s) => {
    if (!(s > 0)) throw new VesselError(`value noise: octave scale ${s} must be positive`);
    return { grid: shape.map((n) => Math.ceil(n / s)) as Vec3, freq: 0 };
  });
}

/** Perlin lattices: frequency f_o = f · lacunarity^o; floor((n − 1) f_o) + 3 lattice points per axis. */
export function perlinOctaves(shape: Vec3, p: PerlinParams): BackgroundSpec['octaves'] {
  if (!(p.frequency > 0) || !Number.isInteger(p.octaves) || p.octaves < 1 || !(p.lacunarity > 0)) {
    throw new VesselError(`perlin noise: frequency ${p.frequency}, octaves ${p.octaves} and lacunarity ${p.lacunarity} must be positive`);
  }
  return Array.from({ length: p.octaves }, (_, o) => {
    const freq = Math.fround(p.frequency * p.lacunarity ** o);
    return { grid: shape.map((n) => Math.floor((n - 1) * freq) + 3) as Vec3, freq };
  });
}

export interface ValueNoiseOptions {
  /** Octave scales (default upstream's 2, 4, …, 64). */
  scales?: readonly number[];
  /** σ of each octave (upstream draws U(0, 5) each). */
  sigma: readonly number[];
  seed: number;
  /** Return the raw sum instead of min-max normalising it to [0, 1]. */
  raw?: boolean;
}

/** Upstream's multi-octave value noise, f32 [D, H, W] in [0, 1] (or the raw sum). */
export function valueNoise(e: Engine, shape: Vec3, o: ValueNoiseOptions): Tensor {
  const scales = o.scales ?? [2, 4, 8, 16, 32, 64];
  if (o.sigma.length !== scales.length) throw new VesselError(`value noise: ${o.sigma.length} σ values for ${scales.length} octaves`);
  return backgroundKernel(e, {
    shape,
    geometry: 'none',
    shapes: [],
    regions: 1,
    texture: 'value',
    octaves: valueOctaves(shape, scales),
    amp: [...o.sigma],
    scale: [1],
    plain: [],
    seed: o.seed,
    raw: o.raw,
  });
}

export interface PerlinOptions extends PerlinParams {
  seed: number;
  /** Return the raw octave sum Σ persistence^o noise_o instead of min-max normalising it to [0, 1]. */
  raw?: boolean;
}

/** Multi-octave Perlin gradient noise, f32 [D, H, W] in [0, 1] (or raw, zero at the first octave's lattice points). */
export function perlinNoise(e: Engine, shape: Vec3, o: PerlinOptions): Tensor {
  const octaves = perlinOctaves(shape, o);
  return backgroundKernel(e, {
    shape,
    geometry: 'none',
    shapes: [],
    regions: 1,
    texture: 'perlin',
    octaves,
    amp: octaves.map((_, k) => o.persistence ** k),
    scale: [1],
    plain: [],
    seed: o.seed,
    raw: o.raw,
  });
}
