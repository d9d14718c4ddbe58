// Voxel-wise intensity kernels of domain randomisation (shaders/drand_pointwise.wgsl). Each returns a new tensor of
// the input's shape; the parameters apply to every [D, H, W] volume of a [..., D, H, W] tensor.
import source from '../../shaders/drand_pointwise.wgsl';
import pointsSource from '../../shaders/drand_points.wgsl';
import { normalTable, PHILOX_NORMAL_WGSL, PHILOX_WGSL, seedKey } from '../random.js';
import { VesselError } from '../../src/gpu/errors.js';
import { params, type Kernel } from '../../src/runtime/runtime.js';
import { fmtShape } from '../../src/tensor/shape.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { grid1D } from '../util.js';
import { checkFinite, volumeDims } from './common.js';

const WG = 256;
/** Histogram control points passed through the uniform block (more are uploaded). */
const MAX_UNIFORM_POINTS = 32;

type Op = 'BIAS' | 'GAUSS' | 'RICIAN' | 'CONTRAST' | 'HIST' | 'CLAMP' | 'COMBINE';
const OPS: Op[] = ['BIAS', 'GAUSS', 'RICIAN', 'CONTRAST', 'HIST', 'CLAMP', 'COMBINE'];

/** Philox streams of the random voxel-wise kernels (the third counter word), so equal seeds still differ. */
export const STREAM = { gaussian: 0x6a05, rician: 0x71c1 } as const;

function kernelFor(x: Tensor, op: Op): Kernel {
  const defines: Record<string, boolean | number> = { WG, RANDOM: op === 'GAUSS' || op === 'RICIAN' };
  for (const o of OPS) defines[`OP_${o}`] = o === op;
  const src = op === 'GAUSS' || op === 'RICIAN' ? PHILOX_WGSL + PHILOX_NORMAL_WGSL + source : source;
  return x.engine.rt.kernel(`drand_pointwise_${op.toLowerCase()}`, src, defines);
}

function run(
  x: Tensor,
  op: Op,
  what: string,
  extra: Tensor[],
  set: (u: ReturnType<typeof params>) => void,
  key: [number, number] = [0, 0],
  stream = 0,
  count = 0,
  coeffs?: readonly number[],
): Tensor {
  const v = volumeDims(x, what);
  const out = x.engine.empty(x.shape);
  const u = params().u32(x.size).u32(v.d).u32(v.h).u32(v.w).u32(key[0]).u32(key[1]).u32(stream).u32(count);
  set(u);
  for (let c = 0; c < 20; c++) u.f32(coeffs?.[c] ?? 0);
  u.u32(0); // opaque: a zero the compiler cannot see (keeps the noise products rounded, never fused)
  // The random ops read the exact normal sampler's table (kept per engine) after out.
  const table = op === 'GAUSS' || op === 'RICIAN' ? [normalTable(x.engine).binding()] : [];
  x.engine.rt.dispatch(kernelFor(x, op), [x.binding(), out.binding(), ...extra.map((t) => t.binding()), ...table], u, grid1D(x.size, WG));
  return out;
}

/** x · exp(Σ c_ijk P_i(z) P_j(y) P_k(x)) over i + j + k ≤ 3; `coeffs` holds the 20 c_ijk in lexicographic order. */
export function biasFieldKernel(x: Tensor, coeffs: readonly number[]): Tensor {
  if (coeffs.length !== 20) throw new VesselError(`biasField: 20 Legendre coefficients expected (degree 3), got ${coeffs.length}`);
  checkFinite('biasField', { coeffs });
  // The coefficients travel in the uniform block: no upload, so the recorded work is not flushed.
  return run(x, 'BIAS', 'biasField', [], (u) => u.f32(0).f32(0), [0, 0], 0, 0, coeffs);
}

/**
 * (x + mean) + std · n, n ~ N(0, 1) the exact normal of the first word of Philox block (key = seed, counter = (voxel
 * index, 0, stream, 0)): the same f32 bits on every adapter (std · n rounded before the sum).
 */
export function gaussianNoiseKernel(x: Tensor, mean: number, std: number, seed: number, stream: number = STREAM.gaussian): Tensor {
  checkFinite('gaussianNoise', { mean, std });
  return run(x, 'GAUSS', 'gaussianNoise', [], (u) => u.f32(mean).f32(std), seedKey(seed), stream);
}

/**
 * sqrt((x + n1)² + n2²), n1, n2 ~ N(mean, std²): exact normals of the first two words of the voxel's Philox block.
 * Every step but the final sqrt (whose accuracy WGSL leaves to the adapter) is bit-identical on every adapter.
 */
export function ricianNoiseKernel(x: Tensor, mean: number, std: number, seed: number, stream: number = STREAM.rician): Tensor {
  checkFinite('ricianNoise', { mean, std });
  return run(x, 'RICIAN', 'ricianNoise', [], (u) => u.f32(mean).f32(std), seedKey(seed), stream);
}

function checkStats(s: Tensor, what: string): void {
  if (s.dtype !== 'f32' || s.size < 4) throw new VesselError(`${what}: statistics tensor [1, 4] expected, got ${fmtShape(s.shape)} ${s.dtype}`);
}

/** ((x − min)/(range + 1e-7))^gamma · range + min, with (min, max) read from `st` (from stats()). */
export function contrastKernel(x: Tensor, st: Tensor, gamma: number): Tensor {
  checkFinite('adjustContrast', { gamma });
  checkStats(st, 'adjustContrast');
  return run(x, 'CONTRAST', 'adjustContrast', [st], (u) => u.f32(gamma).f32(0));
}

/**
 * Piecewise-linear map from reference points linspace(0, 1, n) to `floating` (both scaled to [min, max] of `st`);
 * unchanged when min == max.
 */
export function histogramShiftKernel(x: Tensor, st: Tensor, floating: readonly number[]): Tensor {
  const n = floating.length;
  if (n < 2) throw new VesselError(`histogramShift: at least 2 control points needed, got ${n}`);
  checkFinite('histogramShift', { floating });
  checkStats(st, 'histogramShift');
  const e = x.engine;
  let pt: Tensor;
  if (n <= MAX_UNIFORM_POINTS) {
    // Written by a one-thread kernel from the uniform block: no upload, so the recorded work is not flushed.
    pt = e.empty([n, 2]);
    const u = params().u32(n);
    for (let i = 0; i < MAX_UNIFORM_POINTS; i++) u.f32(floating[i] ?? 0);
    e.rt.dispatch(e.rt.kernel('drand_points', pointsSource), [pt.binding()], u, [1, 1, 1]);
  } else {
    const pts = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      pts[2 * i] = i / (n - 1);
      pts[2 * i + 1] = floating[i];
    }
    pt = e.tensor(pts, [n, 2]);
  }
  const out = run(x, 'HIST', 'histogramShift', [st, pt], (u) => u.f32(0).f32(0), [0, 0], 0, n);
  pt.dispose();
  return out;
}

/** clamp(x, lo, hi). */
export function clampKernel(x: Tensor, lo = 0, hi = 1): Tensor {
  checkFinite('clamp', { lo, hi });
  return run(x, 'CLAMP', 'clamp', [], (u) => u.f32(lo).f32(hi));
}

/** a·x + b·y for two tensors of one shape. */
export function combineKernel(x: Tensor, y: Tensor, a: number, b: number): Tensor {
  if (y.size !== x.size || y.dtype !== 'f32') throw new VesselError(`combine: shapes ${fmtShape(x.shape)} and ${fmtShape(y.shape)} differ`);
  checkFinite('combine', { a, b });
  return run(x, 'COMBINE', 'combine', [y], (u) => u.f32(a).f32(b));
}
