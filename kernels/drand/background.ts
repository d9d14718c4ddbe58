// Procedural background volumes on the GPU (shaders/drand_background.wgsl): geometry label maps and per-region
// min-max-normalised textures (value noise or Perlin gradient noise) or constants, all from (seed, counter).
import source from '../../shaders/drand_background.wgsl';
import { normalTable, PHILOX_NORMAL_WGSL, PHILOX_WGSL, seedKey } from '../random.js';
import type { Engine } from '../../src/engine.js';
import { VesselError } from '../../src/gpu/errors.js';
import { params, type Binding } from '../../src/runtime/runtime.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { grid1D } from '../util.js';

const WG = 256;
const CHUNK = WG * 8;

export type GeometryKind = 'none' | 'spheres' | 'voronoi';
export type TextureKind = 'value' | 'perlin' | 'plain';

/** Everything the kernels need for one background (see src/data/drand/backgrounds.ts for how it is built). */
export interface BackgroundSpec {
  shape: [number, number, number];
  geometry: GeometryKind;
  /** Spheres: [z, y, x, r²] (labels 1, 2, …); Voronoi seeds: [z, y, x] (labels 0, 1, …). */
  shapes: number[][];
  regions: number;
  texture: TextureKind;
  /** Per octave: the grid (value noise) or lattice (Perlin) size per axis, and the Perlin frequency. */
  octaves: { grid: [number, number, number]; freq: number }[];
  /** Amplitude of each (region, octave), region-major. */
  amp: number[];
  /** Intensity scale of each region (upstream's U(0, 1) rand_int_scale). */
  scale: number[];
  /** Constant of each region for the plain texture. */
  plain: number[];
  seed: number;
  /** Skip the min-max normalisation (raw noise sums times the region scale). */
  raw?: boolean;
  /**
   * Find each region's min and max on every normStride-th voxel per axis only (default 1: exact, as upstream).
   * Evaluating every region's texture over the whole volume costs regions × voxels; a stride of 2 or 4 cuts that
   * 8× or 64× for slow adapters, at the price of values that may clip at 0 or 1 slightly more often.
   */
  normStride?: number;
}

const NAMES = ['SHAPES', 'OCTS', 'AMP', 'GRID', 'GRID_OUT', 'MM_ATOMIC', 'MM', 'REGP', 'LABELS', 'OUT', 'TABLE'] as const;
type Name = (typeof NAMES)[number];

function kernel(e: Engine, spec: BackgroundSpec, step: 'LABELS' | 'GRID' | 'MINMAX' | 'WRITE', bindings: Name[]) {
  // Geometry matters only where voxels are labelled, the texture only where it is generated or evaluated.
  const geom = step === 'LABELS' || step === 'WRITE' ? spec.geometry : 'none';
  const tex = step === 'LABELS' ? 'none' : spec.texture;
  const evaluates = bindings.includes('GRID');
  const defines: Record<string, string | number | boolean> = {
    WG,
    CHUNK,
    GEOM_SPHERES: geom === 'spheres',
    GEOM_VORONOI: geom === 'voronoi',
    TEX_VALUE: tex === 'value',
    TEX_PERLIN: tex === 'perlin',
    TEX_PLAIN: tex === 'plain',
    FN_VALUE: evaluates && tex === 'value',
    FN_PERLIN: evaluates && tex === 'perlin',
    STEP_LABELS: step === 'LABELS',
    STEP_GRID: step === 'GRID',
    STEP_MINMAX: step === 'MINMAX',
    RAW: !!spec.raw,
  };
  for (const n of NAMES) {
    const i = bindings.indexOf(n);
    defines[`HAS_${n}`] = i >= 0;
    defines[`B_${n}`] = i + 1;
  }
  // The exact normal sampler only where its table is bound (the value-noise grid).
  const lib = bindings.includes('TABLE') ? PHILOX_WGSL + PHILOX_NORMAL_WGSL : PHILOX_WGSL;
  return e.rt.kernel(`drand_background_${step.toLowerCase()}_${geom}_${tex}`, lib + source, defines);
}

function validate(spec: BackgroundSpec): void {
  const [d, h, w] = spec.shape;
  if (![d, h, w].every((n) => Number.isInteger(n) && n > 0)) throw new VesselError(`background: invalid shape [${spec.shape.join(', ')}]`);
  const expectRegions = spec.geometry === 'none' ? 1 : spec.geometry === 'spheres' ? spec.shapes.length + 1 : spec.shapes.length;
  if (spec.regions !== expectRegions || spec.regions < 1) {
    throw new VesselError(`background: ${spec.regions} regions given for ${spec.shapes.length} ${spec.geometry} shapes (expected ${expectRegions})`);
  }
  if (spec.scale.length !== spec.regions) throw new VesselError(`background: ${spec.scale.length} region scales for ${spec.regions} regions`);
  if (spec.texture === 'plain' && spec.plain.length !== spec.regions) throw new VesselError(`background: ${spec.plain.length} plain constants for ${spec.regions} regions`);
  const st = spec.normStride ?? 1;
  if (!Number.isInteger(st) || st < 1) throw new VesselError(`background: normStride must be a positive integer, got ${st}`);
  if (spec.texture !== 'plain') {
    if (spec.octaves.length === 0) throw new VesselError('background: a noise texture needs at least one octave');
    if (spec.amp.length !== spec.regions * spec.octaves.length) {
      throw new VesselError(`background: ${spec.amp.length} amplitudes for ${spec.regions} regions × ${spec.octaves.length} octaves`);
    }
  }
}

/**
 * The small per-background tables (shapes, octave table, amplitudes, region scales) packed into one buffer and
 * uploaded once (one upload = one flush of the recorded work), each section bound at an aligned offset.
 */
interface Uploaded {
  buffer: Tensor;
  shapes: Binding | null;
  octs: Binding;
  amp: Binding;
  regp: Binding;
  gridTotal: number;
}

function upload(e: Engine, spec: BackgroundSpec): Uploaded {
  const align = Math.max(16, e.rt.storageAlign) / 4;
  const words = (n: number) => Math.ceil(Math.max(n, 4) / align) * align;
  const nShapes = 4 * spec.shapes.length;
  const nOcts = 8 * Math.max(1, spec.octaves.length);
  const nAmp = Math.max(1, spec.amp.length);
  const nRegp = 2 * spec.regions;
  const off = [0, words(nShapes), words(nShapes) + words(nOcts), words(nShapes) + words(nOcts) + words(nAmp)];
  const total = off[3] + words(nRegp);
  const u = new Uint32Array(total);
  const f = new Float32Array(u.buffer);
  spec.shapes.forEach((sh, i) => f.set([sh[0], sh[1], sh[2], sh[3] ?? 0], off[0] + 4 * i));
  let gridTotal = 0;
  spec.octaves.forEach((oc, k) => {
    u.set([oc.grid[0], oc.grid[1], oc.grid[2], gridTotal], off[1] + 8 * k);
    f.set([oc.freq, oc.grid[0] / spec.shape[0], oc.grid[1] / spec.shape[1], oc.grid[2] / spec.shape[2]], off[1] + 8 * k + 4);
    gridTotal += oc.grid[0] * oc.grid[1] * oc.grid[2];
  });
  f.set(spec.amp, off[2]);
  spec.scale.forEach((sc, r) => f.set([sc, spec.plain[r] ?? 0], off[3] + 2 * r));
  const buffer = e.tensor(u, [total], 'u32');
  const bind = (o: number, n: number): Binding => ({ buffer: buffer.buffer, offset: 4 * o, size: 4 * n });
  return {
    buffer,
    shapes: nShapes ? bind(off[0], nShapes) : null,
    octs: bind(off[1], nOcts),
    amp: bind(off[2], nAmp),
    regp: bind(off[3], nRegp),
    gridTotal,
  };
}

function uniforms(spec: BackgroundSpec, up: Uploaded) {
  const [d, h, w] = spec.shape;
  const [k0, k1] = seedKey(spec.seed);
  return params()
    .u32(d * h * w)
    .u32(d)
    .u32(h)
    .u32(w)
    .u32(spec.regions)
    .u32(spec.shapes.length)
    .u32(spec.octaves.length)
    .u32(up.gridTotal)
    .u32(k0)
    .u32(k1)
    .u32(spec.normStride ?? 1);
}

/** The geometry label map of a background: u32 [D, H, W]. */
export function backgroundLabelsKernel(e: Engine, spec: BackgroundSpec): Tensor {
  validate(spec);
  const up = upload(e, spec);
  const [d, h, w] = spec.shape;
  const out = e.empty([d, h, w], 'u32');
  const b: Name[] = up.shapes ? ['SHAPES', 'LABELS'] : ['LABELS'];
  const bufs = up.shapes ? [up.shapes, out.binding()] : [out.binding()];
  e.rt.dispatch(kernel(e, spec, 'LABELS', b), bufs, uniforms(spec, up), grid1D(d * h * w, WG));
  up.buffer.dispose();
  return out;
}

/** A background volume: f32 [D, H, W] in [0, max scale]. */
export function backgroundKernel(e: Engine, spec: BackgroundSpec): Tensor {
  validate(spec);
  const [d, h, w] = spec.shape;
  const n = d * h * w;
  const st = spec.normStride ?? 1;
  const chunks = Math.ceil((Math.ceil(d / st) * Math.ceil(h / st) * Math.ceil(w / st)) / CHUNK);
  if (chunks > 65535 || spec.regions > 65535) throw new VesselError(`background: volume [${spec.shape.join(', ')}] with ${spec.regions} regions is too large`);
  const up = upload(e, spec);
  const u = uniforms(spec, up);
  const out = e.empty([d, h, w]);
  const shapeB: Name[] = up.shapes ? ['SHAPES'] : [];
  const shapeT = up.shapes ? [up.shapes] : [];
  if (spec.texture === 'plain') {
    e.rt.dispatch(kernel(e, spec, 'WRITE', [...shapeB, 'REGP', 'OUT']), [...shapeT, up.regp, out.binding()], u, grid1D(n, WG));
  } else {
    const grid = e.empty([spec.regions * up.gridTotal]);
    // Value noise draws exact normals from the sampler's table (kept per engine); Perlin draws gradient indices.
    const gridB: Name[] = spec.texture === 'value' ? ['OCTS', 'GRID_OUT', 'TABLE'] : ['OCTS', 'GRID_OUT'];
    const gridT = spec.texture === 'value' ? [up.octs, grid.binding(), normalTable(e).binding()] : [up.octs, grid.binding()];
    e.rt.dispatch(kernel(e, spec, 'GRID', gridB), gridT, u, grid1D(spec.regions * up.gridTotal, WG));
    if (spec.raw) {
      e.rt.dispatch(
        kernel(e, spec, 'WRITE', [...shapeB, 'OCTS', 'AMP', 'GRID', 'REGP', 'OUT']),
        [...shapeT, up.octs, up.amp, grid.binding(), up.regp, out.binding()],
        u,
        grid1D(n, WG),
      );
    } else {
      // Zeroed on the GPU: the kernels keep max(~key(min)) and max(key(max)), both starting from 0.
      const mm = e.zeros([2 * spec.regions], 'u32');
      e.rt.dispatch(kernel(e, spec, 'MINMAX', ['OCTS', 'AMP', 'GRID', 'MM_ATOMIC']), [up.octs, up.amp, grid.binding(), mm.binding()], u, [
        chunks,
        spec.regions,
        1,
      ]);
      e.rt.dispatch(
        kernel(e, spec, 'WRITE', [...shapeB, 'OCTS', 'AMP', 'GRID', 'MM', 'REGP', 'OUT']),
        [...shapeT, up.octs, up.amp, grid.binding(), mm.binding(), up.regp, out.binding()],
        u,
        grid1D(n, WG),
      );
      mm.dispose();
    }
    grid.dispose();
  }
  up.buffer.dispose();
  return out;
}
