// Kernel check cases that run unchanged in Node (Dawn) and in a browser (navigator.gpu): the browser test runs
// each case in both and requires equal results. Inputs come from a seeded generator, so both sides see the same
// numbers. Platform-neutral: no Node imports here (this module is bundled into the browser page).
import type { Engine } from '../src/engine.js';
import type { DType } from '../src/tensor/dtype.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { fill } from '../kernels/fill.js';
import { normalCpu, normalFromWord, philoxCpu, randomBitsCpu, randomInto, seedKey, uniformCpu } from '../kernels/random.js';
import { gaussianNoiseKernel, ricianNoiseKernel, STREAM } from '../kernels/drand/pointwise.js';
import { valueNoise } from '../src/data/drand/noise.js';
import { MouldBank } from '../src/data/drand/moulds.js';
import { drawSample, generateSample } from '../src/data/drand/sample.js';
import { fft } from '../kernels/fft.js';
import { groupNormForward } from '../kernels/norm.js';
import { activationForward, type Activation } from '../kernels/activation.js';
import { reduce, type ReduceOp } from '../kernels/reduce.js';
import { MATMUL_VARIANTS, matmulInto } from '../kernels/matmul.js';
import { concat, slice, transpose } from '../kernels/copy.js';
import { conv3dForward } from '../kernels/conv3d.js';
import { binary, compare as compareOp, unary, where, type BinaryOp, type CompareOp, type UnaryOp } from '../kernels/elementwise.js';

/** One check, as plain JSON (it crosses into the page through page.evaluate). */
export interface CheckCase {
  name: string;
  op: string;
  /** Output must match bit for bit (integer ops, copies, fills, RNG); otherwise relative error < tol. */
  exact: boolean;
  /** Relative-error bound for inexact cases (default 1e-5), both browser vs Node and each vs the CPU reference. */
  tol?: number;
  /** Left out of the default run (compiles for many seconds on SwiftShader); defaultCases(true) includes it. */
  slow?: boolean;
  dtype?: DType;
  shape?: number[];
  shapeB?: number[];
  seed?: number;
  value?: number;
  [k: string]: unknown;
}

export interface CheckResult {
  name: string;
  dtype: DType;
  shape: number[];
  exact: boolean;
  tol?: number;
  /** The output: 32-bit patterns for f32 (exact and NaN-safe through JSON), plain values for integer dtypes. */
  values: number[];
  /** Relative error against this module's float64 CPU reference, where the case has one. */
  refErr?: number;
  ms: number;
  error?: string;
}

/** Deterministic uniform numbers in [lo, hi) (mulberry32), never exactly zero. */
export function seeded(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let a = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    const v = lo + (hi - lo) * u;
    out[i] = v === 0 ? 1e-3 : v;
  }
  return out;
}

const count = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** f32-rounded copies of `x` (what the GPU holds after upload), as float64 for the references. */
function f32(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(x as ArrayLike<number>));
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const d = a[i] - b[i];
    if (Number.isNaN(d)) return Infinity;
    num += d * d;
    den += b[i] * b[i];
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Input data of a dtype from a seed: floats in [-2, 2), integers spread over the dtype's range. */
function input(dtype: DType, n: number, seed: number): number[] {
  const u = seeded(n, seed, 0, 1);
  switch (dtype) {
    case 'f32':
    case 'f16':
      return Array.from(u, (v) => 4 * v - 2);
    case 'i32':
      return Array.from(u, (v) => Math.floor(v * 4294967296) - 2147483648);
    case 'u32':
      return Array.from(u, (v) => Math.floor(v * 4294967296));
    case 'u8':
      return Array.from(u, (v) => Math.floor(v * 256));
  }
}

/** An output tensor whose storage holds NaN words, so an element a kernel fails to write cannot pass. */
export function poisoned(e: Engine, shape: number[], dtype: DType): Tensor {
  const t = e.empty(shape, dtype);
  e.rt.write(t.buffer, 0, new Uint32Array(t.storage.bytes / 4).fill(0x7fc00000));
  return t;
}

interface Outcome {
  out: Tensor;
  ref?: ArrayLike<number>;
}

type Runner = (e: Engine, c: CheckCase) => Promise<Outcome> | Outcome;

/** Every op the check cases can name; kernels are added here as they land. */
export const RUNNERS: Record<string, Runner> = {
  fill(e, c) {
    const dtype = c.dtype ?? 'f32';
    const out = poisoned(e, c.shape!, dtype);
    fill(out, c.value!);
    return { out, ref: new Float64Array(count(c.shape!)).fill(dtype === 'f32' ? Math.fround(c.value!) : c.value!) };
  },
  zeros(e, c) {
    return { out: e.zeros(c.shape!, c.dtype ?? 'f32'), ref: new Float64Array(count(c.shape!)) };
  },
  /** Upload seeded data, copy it on the GPU, download: a round trip through queue.writeBuffer and staging. */
  roundtrip(e, c) {
    const dtype = c.dtype ?? 'f32';
    const data = input(dtype, count(c.shape!), c.seed ?? 1);
    const t = e.tensor(data, c.shape!, dtype);
    const out = poisoned(e, c.shape!, dtype);
    e.rt.copy(t.buffer, 0, out.buffer, 0, t.storage.bytes);
    t.dispose();
    return { out, ref: dtype === 'f32' ? f32(data) : data };
  },
  /** The same through reused MAP_WRITE staging buffers (tensorAsync). */
  async roundtripAsync(e, c) {
    const dtype = c.dtype ?? 'f32';
    const data = input(dtype, count(c.shape!), c.seed ?? 1);
    const out = await e.tensorAsync(data, c.shape!, dtype);
    return { out, ref: dtype === 'f32' ? f32(data) : data };
  },
  /** Philox4x32-10: raw words (u32), uniform [a, b) or normal (mean a, std b), at an element offset. */
  random(e, c) {
    const mode = c.mode as 'bits' | 'uniform' | 'normal';
    const shape = c.shape!;
    const n = count(shape);
    const [seed, offset, a, b] = [c.seed ?? 0, (c.offset as number) ?? 0, (c.a as number) ?? 0, (c.b as number) ?? 1];
    const out = poisoned(e, shape, mode === 'bits' ? 'u32' : 'f32');
    randomInto(out, mode, seed, offset, a, b);
    const ref =
      mode === 'bits' ? randomBitsCpu(n, seed, offset) : mode === 'uniform' ? f32(uniformCpu(n, seed, a, b, offset)) : normalCpu(n, seed, a, b, offset);
    return { out, ref };
  },
  /**
   * Domain-randomisation noise (kernels/drand): Gaussian or Rician noise on a seeded volume, or a value-noise grid
   * (scale 1, raw: the grid itself). The reference emulates the kernels' f32 steps (exact normals of the voxel's
   * Philox words, products rounded before sums, correctly rounded sqrt), so it equals the GPU bit for bit.
   */
  drandNoise(e, c) {
    const shape = c.shape!;
    const n = count(shape);
    const [seed, mean, std] = [c.seed ?? 0, (c.a as number) ?? 0, (c.b as number) ?? 1];
    const fr = Math.fround;
    const words = (ctr: number[]) => philoxCpu(ctr, seedKey(seed));
    if (c.fn === 'valueGrid') {
      const [d, h, w] = shape;
      const out = valueNoise(e, [d, h, w], { scales: [1], sigma: [1], seed, raw: true });
      return { out, ref: Float64Array.from({ length: n }, (_, q) => normalFromWord(words([q, 0, 0x7a1e, 0])[0])) };
    }
    const x = Float32Array.from(seeded(n, c.seed ?? 1, 0, 1));
    const xt = e.tensor(x, shape);
    const rician = c.fn === 'rician';
    const out = rician ? ricianNoiseKernel(xt, mean, std, seed) : gaussianNoiseKernel(xt, mean, std, seed);
    xt.dispose();
    const [m, sd, stream] = [fr(mean), fr(std), rician ? STREAM.rician : STREAM.gaussian];
    const ref = Float64Array.from(x, (v, i) => {
      const wd = words([i, 0, stream, 0]);
      const re = fr(fr(v + m) + fr(sd * normalFromWord(wd[0])));
      if (!rician) return re;
      const im = fr(m + fr(sd * normalFromWord(wd[1])));
      return fr(Math.sqrt(fr(fr(re * re) + fr(im * im))));
    });
    return { out, ref };
  },
  /** A whole D_drand sample's image from (seed, index) with a procedural mould bank (normalisation stride 2). */
  drandSample(e, c) {
    const n = c.shape![0];
    const bank = new MouldBank(e, { kind: 'procedural' }, n);
    const opts = { normStride: 2 };
    const s = generateSample(bank, drawSample(bank, c.seed ?? 0, (c.index as number) ?? 0, opts), opts);
    s.mask.dispose();
    bank.dispose();
    return { out: s.image };
  },
  /** 3D FFT of a complex volume [D, H, W, 2] (workgroup-memory Stockham for powers of two, Bluestein otherwise). */
  fft3d(e, c) {
    const shape = c.shape!;
    const x = f32(seeded(count(shape), c.seed ?? 1));
    const xt = e.tensor(Float32Array.from(x), shape);
    const out = fft(xt, { inverse: Boolean(c.inverse) });
    xt.dispose();
    return { out, ref: dft3d(x, shape.slice(0, 3), Boolean(c.inverse)) };
  },
  /** GroupNorm forward on [N, C, D, H, W] with an affine transform. */
  groupNorm(e, c) {
    const shape = c.shape!;
    const [N, C] = shape;
    const G = c.groups as number;
    const eps = 1e-5;
    const x = f32(seeded(count(shape), c.seed ?? 1, -2, 3));
    const gamma = f32(seeded(C, (c.seed ?? 1) + 1, 0.5, 1.5));
    const beta = f32(seeded(C, (c.seed ?? 1) + 2));
    const [xt, gt, bt] = [e.tensor(x, shape), e.tensor(gamma, [C]), e.tensor(beta, [C])];
    const { y, stats } = groupNormForward(xt, G, gt, bt, eps);
    for (const t of [xt, gt, bt, stats]) t.dispose();
    const S = count(shape) / (N * C);
    const M = (C / G) * S;
    const ref = new Float64Array(x.length);
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < G; g++) {
        const base = (n * G + g) * M;
        let mean = 0;
        for (let i = 0; i < M; i++) mean += x[base + i];
        mean /= M;
        let v = 0;
        for (let i = 0; i < M; i++) v += (x[base + i] - mean) ** 2;
        const inv = 1 / Math.sqrt(v / M + eps);
        for (let i = 0; i < M; i++) {
          const ch = g * (C / G) + Math.floor(i / S);
          ref[base + i] = (x[base + i] - mean) * inv * gamma[ch] + beta[ch];
        }
      }
    }
    return { out: y, ref };
  },
  /** A pointwise activation (relu, leakyrelu, silu, sigmoid). */
  activation(e, c) {
    const shape = c.shape!;
    const op = c.fn as Activation;
    const alpha = 0.01;
    const x = f32(seeded(count(shape), c.seed ?? 1, -6, 6));
    const xt = e.tensor(x, shape);
    const out = activationForward(xt, op, alpha);
    xt.dispose();
    // relu and leakyrelu round like the GPU (one f32 multiply), so their reference is exact.
    const f = (v: number) =>
      op === 'relu'
        ? Math.max(v, 0)
        : op === 'leakyrelu'
          ? v > 0
            ? v
            : Math.fround(Math.fround(alpha) * v)
          : op === 'silu'
            ? v / (1 + Math.exp(-v))
            : 1 / (1 + Math.exp(-v));
    return { out, ref: Float64Array.from(x, f) };
  },
  /** a ∘ b with NumPy broadcasting (kernels/elementwise.ts), into a poisoned output. */
  binary(e, c) {
    const dtype = c.dtype ?? 'f32';
    const [sa, sb] = [c.shape!, c.shapeB!];
    const so = broadcast(sa, sb);
    const a = input(dtype, count(sa), c.seed ?? 1);
    const b = input(dtype, count(sb), (c.seed ?? 1) + 1);
    const [ta, tb] = [e.tensor(a, sa, dtype), e.tensor(b, sb, dtype)];
    const out = binary(c.fn as BinaryOp, ta, tb, poisoned(e, so, dtype));
    ta.dispose();
    tb.dispose();
    const fa = dtype === 'f32' ? f32(a) : Float64Array.from(a);
    const fb = dtype === 'f32' ? f32(b) : Float64Array.from(b);
    const f = BINARY_REF[`${c.fn}:${dtype}`];
    return { out, ref: f ? broadcastRef(so, [sa, sb], [fa, fb], (x) => f(x[0], x[1])) : undefined };
  },
  /** A comparison with broadcasting: u8 0/1. */
  compare(e, c) {
    const [sa, sb] = [c.shape!, c.shapeB!];
    const so = broadcast(sa, sb);
    // Few distinct values, so that equal pairs occur.
    const a = Array.from(seeded(count(sa), c.seed ?? 1, 0, 4), Math.floor);
    const b = Array.from(seeded(count(sb), (c.seed ?? 1) + 1, 0, 4), Math.floor);
    const [ta, tb] = [e.tensor(a, sa), e.tensor(b, sb)];
    const out = compareOp(c.fn as CompareOp, ta, tb, poisoned(e, so, 'u8'));
    ta.dispose();
    tb.dispose();
    const cmp = { gt: (x: number, y: number) => x > y, ge: (x: number, y: number) => x >= y, lt: (x: number, y: number) => x < y, le: (x: number, y: number) => x <= y, eq: (x: number, y: number) => x === y, ne: (x: number, y: number) => x !== y }[c.fn as CompareOp];
    return { out, ref: broadcastRef(so, [sa, sb], [Float64Array.from(a), Float64Array.from(b)], (x) => (cmp(x[0], x[1]) ? 1 : 0)) };
  },
  /** where(cond, a, b), all three broadcast. */
  where(e, c) {
    const [sc, sa, sb] = [c.shapeC as number[], c.shape!, c.shapeB!];
    const so = broadcast(broadcast(sc, sa), sb);
    const cond = Array.from(seeded(count(sc), c.seed ?? 1, 0, 2), Math.floor);
    const a = f32(seeded(count(sa), (c.seed ?? 1) + 1));
    const b = f32(seeded(count(sb), (c.seed ?? 1) + 2));
    const [tc, ta, tb] = [e.tensor(cond, sc, 'u8'), e.tensor(a, sa), e.tensor(b, sb)];
    const out = where(tc, ta, tb, poisoned(e, so, 'f32'));
    for (const t of [tc, ta, tb]) t.dispose();
    return { out, ref: broadcastRef(so, [sc, sa, sb], [Float64Array.from(cond), a, b], (x) => (x[0] ? x[1] : x[2])) };
  },
  /** A unary float op (exp, log, sqrt, …). */
  unary(e, c) {
    const shape = c.shape!;
    const [lo, hi] = (c.range as [number, number]) ?? [-2, 2];
    const x = f32(seeded(count(shape), c.seed ?? 1, lo, hi));
    const xt = e.tensor(x, shape);
    const out = unary(c.fn as UnaryOp, xt, poisoned(e, shape, 'f32'));
    xt.dispose();
    const f = ({ exp: Math.exp, log: Math.log, sqrt: Math.sqrt, abs: Math.abs, neg: (v: number) => -v } as Record<string, (v: number) => number>)[c.fn as string];
    return { out, ref: f ? Float64Array.from(x, f) : undefined };
  },
  /** A reduction over chosen axes (or all) of an f32 tensor (kernels/reduce.ts). */
  reduce(e, c) {
    const shape = c.shape!;
    const op = c.fn as ReduceOp;
    const axes = c.axes as number[] | undefined;
    const x = f32(seeded(count(shape), c.seed ?? 1, -1, 3));
    const xt = e.tensor(x, shape);
    const out = reduce(op, xt, { axes, keepDims: Boolean(c.keepDims), noSubgroups: Boolean(c.noSubgroups) });
    xt.dispose();
    return { out, ref: reduceRef(op, x, shape, axes) };
  },
  /** C = op(A)·op(B) with batches (B broadcast when its batch is 1), one forced variant or the automatic choice. */
  matmul(e, c) {
    const [sa, sb] = [c.shape!, c.shapeB!];
    const [transA, transB] = [Boolean(c.transA), Boolean(c.transB)];
    const a = f32(seeded(count(sa), c.seed ?? 1));
    const b = f32(seeded(count(sb), (c.seed ?? 1) + 1));
    const [ta, tb] = [e.tensor(a, sa), e.tensor(b, sb)];
    const [ar, ac] = sa.slice(-2);
    const [br, bc] = sb.slice(-2);
    const [M, K, N] = [transA ? ac : ar, transA ? ar : ac, transB ? br : bc];
    const batchA = count(sa.slice(0, -2));
    const batchB = count(sb.slice(0, -2));
    const batch = Math.max(batchA, batchB);
    const outShape = [...(batchA >= batchB ? sa : sb).slice(0, -2), M, N];
    const out = poisoned(e, outShape, 'f32');
    matmulInto(out, ta, tb, { transA, transB, variant: c.variant as string | undefined });
    ta.dispose();
    tb.dispose();
    const ref = new Float64Array(batch * M * N);
    for (let q = 0; q < batch; q++) {
      const [oa, ob] = [(batchA === 1 ? 0 : q) * M * K, (batchB === 1 ? 0 : q) * K * N];
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += a[oa + (transA ? k * M + i : i * K + k)] * b[ob + (transB ? j * K + k : k * N + j)];
          ref[(q * M + i) * N + j] = acc;
        }
      }
    }
    return { out, ref };
  },
  /** Strided copies (kernels/copy.ts): a stepped slice, a transpose and a concat of the same seeded tensor. */
  copy(e, c) {
    const shape = c.shape!;
    const dtype = c.dtype ?? 'f32';
    const data = input(dtype, count(shape), c.seed ?? 1);
    const t = e.tensor(data, shape, dtype);
    const host = Float64Array.from(dtype === 'f32' ? f32(data) : data);
    let out: Tensor;
    let ref: Float64Array;
    if (c.fn === 'slice') {
      const [axis, start, end, step] = c.args as number[];
      out = slice(t, axis, start, end, step);
      ref = gather(shape, out.shape, host, (o) => o.map((v, d) => (d === axis ? start + v * step : v)));
    } else if (c.fn === 'transpose') {
      const perm = c.args as number[];
      out = transpose(t, perm);
      ref = gather(shape, out.shape, host, (o) => perm.map((_, d) => o[perm.indexOf(d)]));
    } else {
      const axis = (c.args as number[])[0];
      const head = slice(t, axis, 0, 2);
      out = concat([t, head], axis);
      head.dispose();
      const n = shape[axis];
      ref = gather(shape, out.shape, host, (o) => o.map((v, d) => (d === axis ? v % n : v)));
    }
    t.dispose();
    return { out, ref };
  },
  /** conv3d forward with bias (kernels/conv3d.ts, the automatic variant): x [N, Ci, D, H, W], w [Co, Ci, k, k, k]. */
  conv3d(e, c) {
    const [xs, ws] = [c.shape!, c.shapeB!];
    const [stride, pad] = [c.stride as number, c.padding as number];
    const x = f32(seeded(count(xs), c.seed ?? 1));
    const w = f32(seeded(count(ws), (c.seed ?? 1) + 1, -0.3, 0.3));
    const b = f32(seeded(ws[0], (c.seed ?? 1) + 2));
    const [tx, tw, tb] = [e.tensor(x, xs), e.tensor(w, ws), e.tensor(b, [ws[0]])];
    const out = conv3dForward(tx, tw, tb, { stride, padding: pad });
    for (const t of [tx, tw, tb]) t.dispose();
    const [N, Ci, D, H, W] = xs;
    const [Co, , kd, kh, kw] = ws;
    const o = [D, H, W].map((n, i) => Math.floor((n + 2 * pad - [kd, kh, kw][i]) / stride) + 1);
    const ref = new Float64Array(N * Co * o[0] * o[1] * o[2]);
    let r = 0;
    for (let n = 0; n < N; n++)
      for (let co = 0; co < Co; co++)
        for (let z = 0; z < o[0]; z++)
          for (let y = 0; y < o[1]; y++)
            for (let xx = 0; xx < o[2]; xx++) {
              let acc = b[co];
              for (let ci = 0; ci < Ci; ci++)
                for (let a = 0; a < kd; a++)
                  for (let bb = 0; bb < kh; bb++)
                    for (let cc = 0; cc < kw; cc++) {
                      const [iz, iy, ix] = [z * stride - pad + a, y * stride - pad + bb, xx * stride - pad + cc];
                      if (iz < 0 || iy < 0 || ix < 0 || iz >= D || iy >= H || ix >= W) continue;
                      acc += x[(((n * Ci + ci) * D + iz) * H + iy) * W + ix] * w[(((co * Ci + ci) * kd + a) * kh + bb) * kw + cc];
                    }
              ref[r++] = acc;
            }
    return { out, ref };
  },
};

/** out[o] = x[src(o)] over all output coordinates o (row-major), for the copy references. */
function gather(shape: readonly number[], outShape: readonly number[], x: Float64Array, src: (o: number[]) => number[]): Float64Array {
  const n = count(outShape);
  const out = new Float64Array(n);
  const o = new Array(outShape.length).fill(0);
  for (let i = 0; i < n; i++) {
    const q = src(o);
    let off = 0;
    for (let d = 0; d < shape.length; d++) off = off * shape[d] + q[d];
    out[i] = x[off];
    for (let d = outShape.length - 1; d >= 0; d--) {
      if (++o[d] < outShape[d]) break;
      o[d] = 0;
    }
  }
  return out;
}

/** Float64 reference of a reduction (argmax/argmin: first index of the extreme, flat over the reduced axes). */
function reduceRef(op: ReduceOp, x: Float64Array, shape: number[], axes?: number[]): Float64Array {
  const red = new Set((axes ?? shape.map((_, i) => i)).map((a) => (a < 0 ? a + shape.length : a)));
  const keptDims = shape.filter((_, d) => !red.has(d));
  const nOut = count(keptDims);
  const groups: number[][] = Array.from({ length: nOut }, () => []);
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < x.length; i++) {
    let o = 0;
    for (let d = 0; d < shape.length; d++) if (!red.has(d)) o = o * shape[d] + idx[d];
    groups[o].push(x[i]);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return Float64Array.from(groups, (g) => {
    const sum = g.reduce((a, b) => a + b, 0);
    const mean = sum / g.length;
    switch (op) {
      case 'sum':
        return sum;
      case 'mean':
        return mean;
      case 'max':
        return Math.max(...g);
      case 'min':
        return Math.min(...g);
      case 'variance':
        return g.reduce((a, v) => a + (v - mean) ** 2, 0) / g.length;
      case 'argmax':
        return g.indexOf(Math.max(...g));
      case 'argmin':
        return g.indexOf(Math.min(...g));
    }
  });
}

/** References of binary ops: f32 results rounded once (as WGSL's correctly rounded + and ×), integers wrapping. */
const BINARY_REF: Record<string, (a: number, b: number) => number> = {
  'add:f32': (a, b) => Math.fround(a + b),
  'sub:f32': (a, b) => Math.fround(a - b),
  'mul:f32': (a, b) => Math.fround(a * b),
  'div:f32': (a, b) => a / b,
  'add:i32': (a, b) => (a + b) | 0,
  'sub:i32': (a, b) => (a - b) | 0,
  'mul:i32': (a, b) => Math.imul(a, b),
  'add:u32': (a, b) => (a + b) >>> 0,
  'mul:u32': (a, b) => Math.imul(a, b) >>> 0,
  'maximum:i32': Math.max,
  'minimum:i32': Math.min,
};

function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** out[i] = f(inputs at the broadcast coordinates of i), in float64. */
function broadcastRef(so: number[], shapes: number[][], data: Float64Array[], f: (x: number[]) => number): Float64Array {
  const n = count(so);
  const out = new Float64Array(n);
  const idx = new Array(so.length).fill(0);
  const strides = shapes.map((s) => {
    const st = new Array(so.length).fill(0);
    let acc = 1;
    for (let d = s.length - 1; d >= 0; d--) {
      const od = so.length - s.length + d;
      st[od] = s[d] === 1 ? 0 : acc;
      acc *= s[d];
    }
    return st;
  });
  const x = new Array(shapes.length).fill(0);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < shapes.length; k++) {
      let off = 0;
      for (let d = 0; d < so.length; d++) off += idx[d] * strides[k][d];
      x[k] = data[k][off];
    }
    out[i] = f(x);
    for (let d = so.length - 1; d >= 0; d--) {
      if (++idx[d] < so[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Float64 DFT over the three dims of an interleaved complex volume (inverse scaled by 1/N per axis). */
function dft3d(x: Float64Array, dims: number[], inverse: boolean): Float64Array {
  let cur = Float64Array.from(x);
  const sign = inverse ? 1 : -1;
  for (let axis = 0; axis < 3; axis++) {
    const n = dims[axis];
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
    const next = new Float64Array(cur.length);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        for (let k = 0; k < n; k++) {
          let re = 0;
          let im = 0;
          for (let j = 0; j < n; j++) {
            const src = ((o * n + j) * inner + i) * 2;
            const th = (sign * 2 * Math.PI * ((j * k) % n)) / n;
            const [c, s] = [Math.cos(th), Math.sin(th)];
            re += cur[src] * c - cur[src + 1] * s;
            im += cur[src] * s + cur[src + 1] * c;
          }
          const dst = ((o * n + k) * inner + i) * 2;
          const scale = inverse ? 1 / n : 1;
          next[dst] = re * scale;
          next[dst + 1] = im * scale;
        }
      }
    }
    cur = next;
  }
  return cur;
}

/**
 * The cases the browser test runs (small odd shapes: SwiftShader and lavapipe are CPU renderers). `all` adds the
 * slow ones (the browser test takes them with VESSELFM_BROWSER_ALL=1).
 */
export function defaultCases(all = false): CheckCase[] {
  const cases: CheckCase[] = [
    { name: 'fill f32 [3,5,7,11] = -1.7', op: 'fill', exact: true, dtype: 'f32', shape: [3, 5, 7, 11], value: -1.7 },
    { name: 'fill i32 [1001] = -123456789', op: 'fill', exact: true, dtype: 'i32', shape: [1001], value: -123456789 },
    { name: 'fill u32 [257] = 4000000000', op: 'fill', exact: true, dtype: 'u32', shape: [257], value: 4000000000 },
    { name: 'fill u8 [3,333] = 201', op: 'fill', exact: true, dtype: 'u8', shape: [3, 333], value: 201 },
    { name: 'zeros f32 [77]', op: 'zeros', exact: true, dtype: 'f32', shape: [77] },
    { name: 'roundtrip f32 [5,7,9,13]', op: 'roundtrip', exact: true, dtype: 'f32', shape: [5, 7, 9, 13], seed: 11 },
    { name: 'roundtrip i32 [999]', op: 'roundtrip', exact: true, dtype: 'i32', shape: [999], seed: 12 },
    { name: 'roundtrip u32 [1025]', op: 'roundtrip', exact: true, dtype: 'u32', shape: [1025], seed: 13 },
    { name: 'roundtrip u8 [3,5,67]', op: 'roundtrip', exact: true, dtype: 'u8', shape: [3, 5, 67], seed: 14 },
    { name: 'roundtripAsync f32 [31,33]', op: 'roundtripAsync', exact: true, dtype: 'f32', shape: [31, 33], seed: 15 },
    // Philox: words, uniforms and normals (an integer inverse CDF) are integer arithmetic plus an exact conversion,
    // and the shift/scale rounds its product before the sum on any adapter (kernels/random.ts), so all bit-exact.
    { name: 'random bits u32 [3,7,41] offset 5', op: 'random', exact: true, dtype: 'u32', shape: [3, 7, 41], mode: 'bits', seed: 1234567, offset: 5 },
    { name: 'random uniform[0,1) f32 [999]', op: 'random', exact: true, dtype: 'f32', shape: [999], mode: 'uniform', seed: 42, a: 0, b: 1 },
    { name: 'random uniform[-3,5) f32 [17,19]', op: 'random', exact: true, dtype: 'f32', shape: [17, 19], mode: 'uniform', seed: 43, offset: 3, a: -3, b: 5 },
    { name: 'random normal(0,1) f32 [2053]', op: 'random', exact: true, dtype: 'f32', shape: [2053], mode: 'normal', seed: 9, offset: 2 },
    { name: 'random normal(0.5,2) f32 [1001]', op: 'random', exact: true, dtype: 'f32', shape: [1001], mode: 'normal', seed: 2 ** 40 + 7, a: 0.5, b: 2 },
    // Domain-randomisation noise on the exact normals: bit-exact as well (Rician through a correctly rounded sqrt).
    { name: 'drand gaussian noise f32 [2,7,9,11]', op: 'drandNoise', fn: 'gaussian', exact: true, dtype: 'f32', shape: [2, 7, 9, 11], seed: 2 ** 40 + 17, a: 0.05, b: 0.2 },
    { name: 'drand rician noise f32 [9,10,11]', op: 'drandNoise', fn: 'rician', exact: true, dtype: 'f32', shape: [9, 10, 11], seed: 77, a: 0.1, b: 0.3 },
    { name: 'drand value-noise grid f32 [5,7,9]', op: 'drandNoise', fn: 'valueGrid', exact: true, dtype: 'f32', shape: [5, 7, 9], seed: 2 ** 41 + 5 },
    // A whole 16³ sample (procedural mould) from (seed, index): its random draws are exact, but the f32 arithmetic after
    // them (FFT, blurs, exp/pow, divisions, interpolation) rounds per adapter; measured 8e-8 to 1e-6 apart.
    { name: 'drand sample 16³ seed 5 index 0', op: 'drandSample', exact: false, tol: 1e-5, dtype: 'f32', shape: [16, 16, 16], seed: 5, index: 0 },
    // Elementwise with NumPy broadcasting (integer results bit-exact; f32 + and × are correctly rounded in WGSL).
    { name: 'add f32 [2,3,5,7] + [3,1,7]', op: 'binary', fn: 'add', exact: false, dtype: 'f32', shape: [2, 3, 5, 7], shapeB: [3, 1, 7], seed: 31 },
    { name: 'mul f32 [5,1,9] * [1,4,9]', op: 'binary', fn: 'mul', exact: false, dtype: 'f32', shape: [5, 1, 9], shapeB: [1, 4, 9], seed: 32 },
    { name: 'mul f32 [1003] * [1] (scalar)', op: 'binary', fn: 'mul', exact: false, dtype: 'f32', shape: [1003], shapeB: [1], seed: 33 },
    { name: 'add i32 [7,13] + [13] (wrapping)', op: 'binary', fn: 'add', exact: true, dtype: 'i32', shape: [7, 13], shapeB: [13], seed: 34 },
    { name: 'mul u32 [3,1,5] * [4,1]', op: 'binary', fn: 'mul', exact: true, dtype: 'u32', shape: [3, 1, 5], shapeB: [4, 1], seed: 35 },
    { name: 'ge f32 [6,1,7] >= [5,1] -> u8', op: 'compare', fn: 'ge', exact: true, dtype: 'u8', shape: [6, 1, 7], shapeB: [5, 1], seed: 36 },
    { name: 'where u8[3,1,7] ? [3,5,7] : [5,1]', op: 'where', exact: true, dtype: 'f32', shapeC: [3, 1, 7], shape: [3, 5, 7], shapeB: [5, 1], seed: 37 },
    { name: 'exp f32 [17,23]', op: 'unary', fn: 'exp', exact: false, dtype: 'f32', shape: [17, 23], seed: 38 },
    { name: 'log f32 [999]', op: 'unary', fn: 'log', exact: false, dtype: 'f32', shape: [999], seed: 39, range: [0.01, 10] },
    // Strided copies: bit-exact.
    { name: 'slice f32 [5,9,7] axis 1 1:8:3', op: 'copy', fn: 'slice', exact: true, dtype: 'f32', shape: [5, 9, 7], args: [1, 1, 8, 3], seed: 61 },
    { name: 'transpose u8 [3,5,7] -> [2,0,1]', op: 'copy', fn: 'transpose', exact: true, dtype: 'u8', shape: [3, 5, 7], args: [2, 0, 1], seed: 62 },
    { name: 'concat i32 [4,3,5] ++ head along 2', op: 'copy', fn: 'concat', exact: true, dtype: 'i32', shape: [4, 3, 5], args: [2], seed: 63 },
    // Reductions: max/min/argmax are exact; sums may add in another order (subgroups of 4 in Chromium, 8 on lavapipe).
    { name: 'sum f32 [3,5,7,11] all', op: 'reduce', fn: 'sum', exact: false, shape: [3, 5, 7, 11], seed: 41, slow: true },
    { name: 'sum f32 [9001] all (two passes)', op: 'reduce', fn: 'sum', exact: false, shape: [9001], seed: 42 },
    { name: 'sum f32 [3,5,7,11] axes [1,3]', op: 'reduce', fn: 'sum', exact: false, shape: [3, 5, 7, 11], axes: [1, 3], seed: 43 },
    { name: 'mean f32 [4,6,9] axes [0,2] keepDims', op: 'reduce', fn: 'mean', exact: false, shape: [4, 6, 9], axes: [0, 2], keepDims: true, seed: 44 },
    { name: 'variance f32 [5,301] axis 1', op: 'reduce', fn: 'variance', exact: false, shape: [5, 301], axes: [1], seed: 45 },
    { name: 'max f32 [7,13,17] axis -1', op: 'reduce', fn: 'max', exact: true, shape: [7, 13, 17], axes: [-1], seed: 46 },
    { name: 'min f32 [7,13,17] axis 0 (no subgroups)', op: 'reduce', fn: 'min', exact: true, shape: [7, 13, 17], axes: [0], seed: 47, noSubgroups: true },
    { name: 'argmax f32 [11,257] axis 1', op: 'reduce', fn: 'argmax', exact: true, shape: [11, 257], axes: [1], seed: 48 },
    // f32 matmul variants (all fit browser limits: <= 256 invocations, <= 16 KiB workgroup memory). SwiftShader
    // takes 3-15 s to compile each workgroup-tiled variant (the automatic choice on CPU adapters is a register-
    // blocked one), so those two are slow cases; workgroup memory is exercised here by the FFT and reductions.
    { name: 'matmul auto [33,65]·[65,17]', op: 'matmul', exact: false, shape: [33, 65], shapeB: [65, 17], seed: 56 },
    // conv3d, the core of the segmenter: 3×3×3 with padding, and a strided 3×3×3 downsampling.
    { name: 'conv3d [1,3,5,6,7]*[4,3,3,3,3] pad 1', op: 'conv3d', exact: false, shape: [1, 3, 5, 6, 7], shapeB: [4, 3, 3, 3, 3], stride: 1, padding: 1, seed: 71 },
    { name: 'conv3d [2,2,7,5,9]*[3,2,3,3,3] stride 2', op: 'conv3d', exact: false, shape: [2, 2, 7, 5, 9], shapeB: [3, 2, 3, 3, 3], stride: 2, padding: 1, seed: 72 },
    // Float kernels: same results within 1e-5, and each side within 1e-4 of the float64 reference.
    { name: 'fft3d f32 [6,8,5,2] (Bluestein + Stockham)', op: 'fft3d', exact: false, shape: [6, 8, 5, 2], seed: 21 },
    { name: 'groupNorm f32 [2,6,3,5,7] G=3', op: 'groupNorm', exact: false, shape: [2, 6, 3, 5, 7], groups: 3, seed: 23 },
    { name: 'silu f32 [3,5,7,11]', op: 'activation', exact: false, shape: [3, 5, 7, 11], fn: 'silu', seed: 24 },
    { name: 'leakyrelu f32 [1003]', op: 'activation', exact: true, shape: [1003], fn: 'leakyrelu', seed: 25 },
  ];
  // Every matmul variant, each on its own odd shape, transposes and batches spread over them.
  const mm: Array<Partial<CheckCase> & { shape: number[]; shapeB: number[] }> = [
    { shape: [37, 53], shapeB: [29, 53], transB: true },
    { shape: [2, 19, 33], shapeB: [33, 41] },
    { shape: [45, 21], shapeB: [45, 35], transA: true },
    { shape: [3, 13, 7], shapeB: [3, 7, 11] },
    { shape: [70, 67], shapeB: [131, 67], transB: true },
    { shape: [2, 31, 18], shapeB: [1, 18, 23] },
  ];
  // sgb variants need subgroups of at least 8 lanes, which Chromium's SwiftShader adapter does not offer (matmul
  // refuses them there with a clear error), so they are checked in Node only (test/kernels/matmul.test.ts).
  MATMUL_VARIANTS.filter((v) => v.kind !== 'sgb').forEach((v, i) => {
    const g = mm[i % mm.length];
    const fmt = (sh: number[], t?: unknown) => `[${sh}]${t ? 'ᵀ' : ''}`;
    cases.push({
      ...g,
      name: `matmul ${v.name} ${fmt(g.shape, g.transA)}·${fmt(g.shapeB, g.transB)}`,
      op: 'matmul',
      exact: false,
      variant: v.name,
      seed: 51 + i,
      slow: v.kind === 'tiled',
    });
  });
  return cases.filter((c) => c.op in RUNNERS && (all || !c.slow));
}

/** Run one case; failures come back as `error` (one line) rather than a rejected promise. */
export async function runCase(e: Engine, c: CheckCase): Promise<CheckResult> {
  const t0 = performance.now();
  const base = { name: c.name, dtype: c.dtype ?? 'f32', shape: c.shape ?? [], exact: c.exact, tol: c.tol };
  const run = RUNNERS[c.op];
  if (!run) return { ...base, values: [], ms: 0, error: `no runner for op "${c.op}"` };
  try {
    const { out, ref } = await run(e, c);
    const host = await out.read();
    let values: number[];
    if (host instanceof Float32Array) values = Array.from(new Uint32Array(host.buffer, host.byteOffset, host.length));
    else values = Array.from(host as ArrayLike<number>);
    const result: CheckResult = { ...base, dtype: out.dtype, shape: [...out.shape], values, ms: performance.now() - t0 };
    if (ref) result.refErr = relErr(host as ArrayLike<number>, ref);
    out.dispose();
    return result;
  } catch (err) {
    return { ...base, values: [], ms: performance.now() - t0, error: String((err as Error).message ?? err).split('\n')[0] };
  }
}

export async function runCases(e: Engine, cases: CheckCase[]): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const c of cases) out.push(await runCase(e, c));
  return out;
}

/** Decode a result's values to numbers (f32 bit patterns back to floats). */
export function decode(r: CheckResult): Float64Array {
  if (r.dtype !== 'f32') return Float64Array.from(r.values);
  return Float64Array.from(new Float32Array(Uint32Array.from(r.values).buffer));
}

/**
 * Compare a browser result with the Node result of the same case: bit-exact for exact cases, relative error
 * below `tol` otherwise. Returns null when they agree, else one line saying how they differ.
 */
export function compare(browser: CheckResult, node: CheckResult, tol = node.tol ?? 1e-5): string | null {
  if (browser.error) return `${browser.name}: browser failed: ${browser.error}`;
  if (node.error) return `${node.name}: node failed: ${node.error}`;
  if (browser.dtype !== node.dtype || browser.shape.join() !== node.shape.join()) {
    return `${node.name}: browser gave ${browser.dtype} [${browser.shape}], node ${node.dtype} [${node.shape}]`;
  }
  if (browser.values.length !== node.values.length) {
    return `${node.name}: browser gave ${browser.values.length} values, node ${node.values.length}`;
  }
  if (node.exact) {
    for (let i = 0; i < node.values.length; i++) {
      if (browser.values[i] !== node.values[i]) {
        const [b, n] = [decode(browser)[i], decode(node)[i]];
        return `${node.name}: element ${i} differs (browser ${b}, node ${n}); the case must match bit for bit`;
      }
    }
    return null;
  }
  const [b, n] = [decode(browser), decode(node)];
  const err = relErr(b, n);
  if (err < tol) return null;
  let worst = 0;
  for (let i = 1; i < n.length; i++) if (!(Math.abs(b[i] - n[i]) <= Math.abs(b[worst] - n[worst]))) worst = i;
  return (
    `${node.name}: relative error ${err.toExponential(2)} between browser and node (limit ${tol}); ` +
    `largest difference at element ${worst}: browser ${b[worst]}, node ${n[worst]}`
  );
}
