// Background volumes of domain randomisation (spec §4.3), generated on the GPU on the fly instead of read from
// 50,000 precomputed files: a geometry (none, non-overlapping spheres, Voronoi polyhedra) whose every region gets an
// independent texture — upstream's multi-octave value noise, true Perlin gradient noise, or a constant — min-max
// normalised to [0, 1] over the whole volume and multiplied by a per-region U(0, 1) scale.
import { backgroundKernel, backgroundLabelsKernel, type BackgroundSpec } from '../../../kernels/drand/background.js';
import type { Engine } from '../../engine.js';
import { VesselError } from '../../gpu/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { regionCount, type BackgroundParams, type Vec3 } from './params.js';
import { perlinOctaves, valueOctaves } from './noise.js';

/** The kernel description of a background of spatial shape [D, H, W]. */
export function backgroundSpec(shape: Vec3, p: BackgroundParams): BackgroundSpec {
  const regions = regionCount(p);
  const shapes =
    p.geometry === 'spheres' ? p.spheres.map((s) => [s.c[0], s.c[1], s.c[2], s.r * s.r]) : p.geometry === 'voronoi' ? p.seeds.map((s) => [...s]) : [];
  if (p.geometry === 'voronoi' && shapes.length === 0) throw new VesselError('background: Voronoi geometry needs at least one seed');
  const octaves = p.texture === 'value' ? valueOctaves(shape, p.valueScales) : p.texture === 'perlin' ? perlinOctaves(shape, p.perlin) : [];
  return { shape, geometry: p.geometry, shapes, regions, texture: p.texture, octaves, amp: p.amp, scale: p.scale, plain: p.plain, seed: p.seed };
}

export interface GenerateOptions {
  /**
   * Min-max normalise each region's texture using every normStride-th voxel per axis (default 1: exact, as
   * upstream). Cost is regions × voxels / normStride³ texture evaluations plus one per voxel; see BackgroundSpec.
   */
  normStride?: number;
}

/** A background volume f32 [D, H, W] with values in [0, 1]. */
export function generateBackground(e: Engine, shape: Vec3, p: BackgroundParams, opts: GenerateOptions = {}): Tensor {
  return backgroundKernel(e, { ...backgroundSpec(shape, p), normStride: opts.normStride });
}

/** The region label of every voxel, u32 [D, H, W] (0 everywhere without geometry; 0 outside spheres). */
export function backgroundLabels(e: Engine, shape: Vec3, p: BackgroundParams): Tensor {
  return backgroundLabelsKernel(e, backgroundSpec(shape, p));
}
