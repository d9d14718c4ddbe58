// random: counter-based random tensors from Philox4x32-10 (shaders/lib/philox.wgsl), plus a bit-exact CPU
// reference. The numbers are a pure function of (seed, offset + element index): the same on every adapter, and
// independent of how a large tensor is split into chunks for binding.
import philoxSource from '../shaders/lib/philox.wgsl';
import source from '../shaders/random.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { params } from '../src/runtime/runtime.js';
import type { DType } from '../src/tensor/dtype.js';
import type { Engine } from '../src/engine.js';
import type { Shape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { chunkRanges, grid1D } from './util.js';

/** The Philox WGSL library; prepend it to a kernel source to use philox4x32_10 and its helpers. */
export const PHILOX_WGSL: string = philoxSource;

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO32 = 4294967296;

function mulhi(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/** Philox4x32-10 on the CPU: the same four words the WGSL philox4x32_10(ctr, key) returns. */
export function philoxCpu(ctr: ArrayLike<number>, key: ArrayLike<number>): Uint32Array {
  let c0 = ctr[0] >>> 0;
  let c1 = ctr[1] >>> 0;
  let c2 = ctr[2] >>> 0;
  let c3 = ctr[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return Uint32Array.of(c0, c1, c2, c3);
}

/** philox_unit: top 24 bits × 2^-24, in [0, 1). */
export function unitCpu(x: number): number {
  return (x >>> 8) * 2 ** -24;
}

/** philox_unit_pos: (top 24 bits + 1) × 2^-24, in (0, 1]. */
export function unitPosCpu(x: number): number {
  return ((x >>> 8) + 1) * 2 ** -24;
}

/** The Philox key for a seed (an integer in [0, 2^53)). */
export function seedKey(seed: number): [number, number] {
  checkCounter(seed, 'seed');
  return [seed % TWO32 >>> 0, Math.floor(seed / TWO32) >>> 0];
}

function checkCounter(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new VesselError(`random: ${what} must be an integer in [0, 2^53), got ${v}`);
}

/** The raw Philox word of element `e` (= offset + flat index) under the engine's convention (see philox.wgsl). */
export function randomWordCpu(seed: number, e: number, stream = 0): number {
  const b = Math.floor(e / 4);
  return philoxCpu([b % TWO32, Math.floor(b / TWO32), stream, 0], seedKey(seed))[e % 4];
}

/** CPU reference of random words for elements offset … offset + n − 1. */
export function randomBitsCpu(n: number, seed: number, offset = 0, stream = 0): Uint32Array {
  checkCounter(offset, 'offset');
  const key = seedKey(seed);
  const out = new Uint32Array(n);
  let cachedBlock = -1;
  let w: Uint32Array = new Uint32Array(4);
  for (let i = 0; i < n; i++) {
    const e = offset + i;
    const b = Math.floor(e / 4);
    if (b !== cachedBlock) {
      w = philoxCpu([b % TWO32, Math.floor(b / TWO32), stream, 0], key);
      cachedBlock = b;
    }
    out[i] = w[e % 4];
  }
  return out;
}

/** CPU reference of uniform(): float64 values of the f32 the GPU computes before its final rounding. */
export function uniformCpu(n: number, seed: number, lo = 0, hi = 1, offset = 0): Float64Array {
  const bits = randomBitsCpu(n, seed, offset);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * unitCpu(bits[i]);
  return out;
}

/** CPU reference of normal() in float64. */
export function normalCpu(n: number, seed: number, mean = 0, std = 1, offset = 0): Float64Array {
  const out = new Float64Array(n);
  const key = seedKey(seed);
  for (let i = 0; i < n; i++) {
    const e = offset + i;
    const b = Math.floor(e / 4);
    const w = philoxCpu([b % TWO32, Math.floor(b / TWO32), 0, 0], key);
    const lane = e % 4;
    const a = w[lane & 2];
    const c = w[(lane & 2) + 1];
    const r = Math.sqrt(-2 * Math.log(unitPosCpu(a)));
    const t = 2 * Math.PI * unitCpu(c);
    out[i] = mean + std * (lane & 1 ? r * Math.sin(t) : r * Math.cos(t));
  }
  return out;
}

const WG = 64;

type Mode = 'bits' | 'uniform' | 'normal';

function largestBelow(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  if (v > 0) u[0] -= 1;
  else if (v < 0) u[0] += 1;
  else u[0] = 0x80800000; // the largest normal below 0: -2^-126 (subnormals may be flushed)
  return f[0];
}

/**
 * Write random values into `out` (every element): raw Philox words (u32), uniform in [a, b) or normal with mean a
 * and standard deviation b (f32 or f16). Large tensors are written chunk by chunk; values do not depend on chunking.
 */
export function randomInto(out: Tensor, mode: Mode, seed: number, offset: number, a: number, b: number): void {
  checkCounter(offset, 'offset');
  if (!Number.isSafeInteger(offset + out.size)) throw new VesselError(`random: offset ${offset} + ${out.size} elements exceeds 2^53`);
  const [k0, k1] = seedKey(seed);
  const dt: DType = out.dtype;
  if (mode === 'bits' ? dt !== 'u32' : dt !== 'f32' && dt !== 'f16') {
    throw new VesselError(`random ${mode}: output dtype ${dt} is not supported (${mode === 'bits' ? 'u32' : 'f32 or f16'} expected)`);
  }
  const rt = out.engine.rt;
  const k = rt.kernel('random', PHILOX_WGSL + source, {
    WG,
    MODE_BITS: mode === 'bits',
    MODE_UNIFORM: mode === 'uniform',
    OUT_F16: dt === 'f16',
  });
  // uniform: v = lo + (hi − lo)·u, clamped below hi (rounding of the product can otherwise reach hi).
  const p1 = a;
  const p2 = mode === 'uniform' ? b - a : b;
  const p3 = mode === 'uniform' ? largestBelow(b) : 0;
  for (const [start, count] of chunkRanges(out)) {
    const base = offset + start;
    const quads = Math.ceil(count / 4);
    rt.dispatch(
      k,
      [out.binding(start, count)],
      params()
        .u32(count)
        .u32(k0)
        .u32(k1)
        .u32(base % TWO32)
        .u32(Math.floor(base / TWO32))
        .f32(p1)
        .f32(p2)
        .f32(p3),
      grid1D(quads, WG),
    );
  }
}

function checkShapeDtype(engine: Engine, shape: Shape, dtype: DType, what: string): void {
  if (dtype !== 'f32' && dtype !== 'f16') throw new VesselError(`${what}: dtype ${dtype} is not supported (f32 or f16)`);
  if (dtype === 'f16' && !engine.gpu.hasF16) throw new VesselError(`${what}: dtype f16 needs the shader-f16 feature, which this adapter lacks`);
}

/** A tensor of uniform numbers in [lo, hi): a pure function of (seed, offset + element index). */
export function uniform(engine: Engine, shape: Shape, lo: number, hi: number, seed: number, offset = 0, dtype: DType = 'f32'): Tensor {
  checkShapeDtype(engine, shape, dtype, 'uniform');
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) throw new VesselError(`uniform: need finite lo < hi, got [${lo}, ${hi})`);
  const t = engine.empty(shape, dtype);
  randomInto(t, 'uniform', seed, offset, lo, hi);
  return t;
}

/** A tensor of normal numbers (Box–Muller) with the given mean and standard deviation. */
export function normal(engine: Engine, shape: Shape, mean: number, std: number, seed: number, offset = 0, dtype: DType = 'f32'): Tensor {
  checkShapeDtype(engine, shape, dtype, 'normal');
  if (!(std >= 0) || !Number.isFinite(mean) || !Number.isFinite(std)) throw new VesselError(`normal: need a finite mean and std ≥ 0, got ${mean}, ${std}`);
  const t = engine.empty(shape, dtype);
  randomInto(t, 'normal', seed, offset, mean, std);
  return t;
}

/** Raw Philox words (u32), the same as randomBitsCpu. */
export function randomBits(engine: Engine, shape: Shape, seed: number, offset = 0): Tensor {
  const t = engine.empty(shape, 'u32');
  randomInto(t, 'bits', seed, offset, 0, 0);
  return t;
}
