// random: counter-based random tensors from Philox4x32-10 (shaders/lib/philox.wgsl), plus a bit-exact CPU
// reference. The numbers are a pure function of (seed, offset + element index): the same on every adapter, and
// independent of how a large tensor is split into chunks for binding. Words, uniforms and normals are computed
// with integer arithmetic up to an exact conversion to f32 (normals by a fixed-point inverse CDF, see
// shaders/lib/philox_normal.wgsl), and the affine maps lo + (hi − lo)·u and mean + std·z round the product
// before the sum on every adapter, so the f32 results are bit-identical everywhere and equal the CPU reference
// below. (The exception would be subnormal products or sums, which an adapter may flush to zero; they need a std
// or hi − lo below about 1e-29.)
import philoxSource from '../shaders/lib/philox.wgsl';
import philoxNormalSource from '../shaders/lib/philox_normal.wgsl';
import source from '../shaders/random.wgsl';
import { VesselError } from '../src/gpu/errors.js';
import { params } from '../src/runtime/runtime.js';
import type { DType } from '../src/tensor/dtype.js';
import type { Engine } from '../src/engine.js';
import type { Shape } from '../src/tensor/shape.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { NORMAL_TABLE } from './normal-table.js';
import { chunkRanges, grid1D } from './util.js';

/** The Philox WGSL library; prepend it to a kernel source to use philox4x32_10 and its helpers. */
export const PHILOX_WGSL: string = philoxSource;

/**
 * The exact normal sampler (philox_normal, philox_normal4); append it after PHILOX_WGSL. The kernel declares
 * `var<storage, read> PHILOX_NORMAL_TABLE: array<i32>` and binds normalTable(engine) there.
 */
export const PHILOX_NORMAL_WGSL: string = philoxNormalSource;

const normalTables = new WeakMap<Engine, Tensor>();

/** The sampler's table on the GPU (i32, uploaded once per engine and kept for its life). */
export function normalTable(engine: Engine): Tensor {
  let t = normalTables.get(engine);
  if (!t) normalTables.set(engine, (t = engine.keep(engine.tensor(NORMAL_TABLE, [NORMAL_TABLE.length], 'i32'))));
  return t;
}

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

/** floor(c · x / 2^32) for a signed 32-bit c and an unsigned Q32 fraction x (philox_mulhi_su). */
function mulhiSU(c: number, x: number): number {
  return (mulhi(c >>> 0, x) - (c < 0 ? x : 0)) | 0;
}

/** |z| in Q28 for the 31-bit m (philox_normal_q28). */
function normalQ28(m: number): number {
  if (m < 64) return NORMAL_TABLE[m];
  const b = 31 - Math.clz32(m);
  const piece = (m >>> (b - 3)) & 7;
  const x = (m << (35 - b)) >>> 0;
  const i = 64 + ((b - 6) * 8 + piece) * 5;
  let y = NORMAL_TABLE[i + 4];
  for (let d = 3; d >= 0; d--) y = (NORMAL_TABLE[i + d] + mulhiSU(y, x)) | 0;
  return Math.max(y, 0);
}

const bitsF32 = new Uint32Array(1);
const valueF32 = new Float32Array(bitsF32.buffer);

/** The f32 nearest (ties to even) to q·2^-28, negated when s is 1 (philox_q28_to_f32; −0 for q = 0, s = 1). */
function q28ToF32(q: number, s: number): number {
  if (q === 0) return s ? -0 : 0;
  const n = 32 - Math.clz32(q);
  let mant = n <= 24 ? q << (24 - n) : q >>> (n - 24);
  if (n > 24) {
    const sh = n - 24;
    const rem = q & ((1 << sh) - 1);
    const half = 1 << (sh - 1);
    if (rem > half || (rem === half && (mant & 1) === 1)) mant++;
  }
  bitsF32[0] = ((((n + 97) << 23) + mant) | (s << 31)) >>> 0;
  return valueF32[0];
}

/**
 * The standard normal of one Philox word (philox_normal): the sign is the top bit, the magnitude the inverse normal
 * CDF at the tail probability (m + 1/2)·2^-32 of the other 31 bits, by integer arithmetic; an exact f32 value.
 */
export function normalFromWord(w: number): number {
  return q28ToF32(normalQ28(w & 0x7fffffff), w >>> 31);
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

const fr = Math.fround;

/** a + b·x in f32 with the product rounded first, as the kernel computes it (two correctly rounded operations). */
function affineF32(a: number, b: number, x: number): number {
  return fr(fr(a) + fr(fr(b) * x));
}

/**
 * CPU reference of uniform(): the f32 values the GPU writes (for f32 outputs, bit for bit; f16 outputs are these
 * rounded to nearest even): min(lo + (hi − lo)·u, the largest f32 below hi), u = philox_unit of the word.
 */
export function uniformCpu(n: number, seed: number, lo = 0, hi = 1, offset = 0): Float64Array {
  const bits = randomBitsCpu(n, seed, offset);
  const out = new Float64Array(n);
  const cap = largestBelow(hi);
  for (let i = 0; i < n; i++) out[i] = Math.min(affineF32(lo, hi - lo, unitCpu(bits[i])), cap);
  return out;
}

/** CPU reference of normal(): the f32 values mean + std·z the GPU writes, bit for bit (z = normalFromWord). */
export function normalCpu(n: number, seed: number, mean = 0, std = 1, offset = 0): Float64Array {
  const bits = randomBitsCpu(n, seed, offset);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = affineF32(mean, std, normalFromWord(bits[i]));
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
  const k = rt.kernel('random', PHILOX_WGSL + (mode === 'normal' ? PHILOX_NORMAL_WGSL : '') + source, {
    WG,
    MODE_BITS: mode === 'bits',
    MODE_UNIFORM: mode === 'uniform',
    MODE_NORMAL: mode === 'normal',
    OUT_F16: dt === 'f16',
  });
  const table = mode === 'normal' ? [normalTable(out.engine).binding(0, NORMAL_TABLE.length)] : [];
  // uniform: v = lo + (hi − lo)·u, clamped below hi (rounding of the product can otherwise reach hi).
  // The last parameter is a zero the compiler cannot see: XOR-ing the product's bits with it keeps the product a
  // rounded f32 on every adapter (no fused multiply-add), so the results equal the CPU reference bit for bit.
  const p1 = a;
  const p2 = mode === 'uniform' ? b - a : b;
  const p3 = mode === 'uniform' ? largestBelow(b) : 0;
  for (const [start, count] of chunkRanges(out)) {
    const base = offset + start;
    const quads = Math.ceil(count / 4);
    rt.dispatch(
      k,
      [out.binding(start, count), ...table],
      params()
        .u32(count)
        .u32(k0)
        .u32(k1)
        .u32(base % TWO32)
        .u32(Math.floor(base / TWO32))
        .f32(p1)
        .f32(p2)
        .f32(p3)
        .u32(0),
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

/** A tensor of normal numbers (exact fixed-point inverse CDF, see normalFromWord) with the given mean and std. */
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
