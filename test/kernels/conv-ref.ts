// Float64 CPU references for conv3d and convTranspose3d, forward and backward, written straight from the
// definitions (no shared index tricks with the GPU kernels, so the two can disagree).
import type { Engine } from '../../src/engine.js';
import type { DType } from '../../src/tensor/dtype.js';
import { poison } from '../helpers.js';

export type T3 = [number, number, number];
export type S5 = [number, number, number, number, number];

export function outSize(i: number, k: number, s: number, p: number): number {
  return Math.floor((i + 2 * p - k) / s) + 1;
}

export function convOutShape(xs: S5, ws: S5, s: T3, p: T3): S5 {
  return [xs[0], ws[0], outSize(xs[2], ws[2], s[0], p[0]), outSize(xs[3], ws[3], s[1], p[1]), outSize(xs[4], ws[4], s[2], p[2])];
}

/**
 * Visit every (output voxel, input voxel, weight tap) triple of a Conv3d: f(n, o, i, yIndex, xIndex, wIndex).
 * The forward, input gradient and weight gradient are the same triple sum read three ways.
 */
function forEachTriple(xs: S5, ws: S5, s: T3, p: T3, f: (yi: number, xi: number, wi: number) => void): void {
  const [N, C, D, H, W] = xs;
  const [O, , KD, KH, KW] = ws;
  const [, , OD, OH, OW] = convOutShape(xs, ws, s, p);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let z = 0; z < OD; z++)
        for (let y = 0; y < OH; y++)
          for (let x = 0; x < OW; x++) {
            const yi = (((n * O + o) * OD + z) * OH + y) * OW + x;
            for (let i = 0; i < C; i++)
              for (let a = 0; a < KD; a++) {
                const iz = z * s[0] - p[0] + a;
                if (iz < 0 || iz >= D) continue;
                for (let b = 0; b < KH; b++) {
                  const iy = y * s[1] - p[1] + b;
                  if (iy < 0 || iy >= H) continue;
                  for (let c = 0; c < KW; c++) {
                    const ix = x * s[2] - p[2] + c;
                    if (ix < 0 || ix >= W) continue;
                    f(yi, (((n * C + i) * D + iz) * H + iy) * W + ix, (((o * C + i) * KD + a) * KH + b) * KW + c);
                  }
                }
              }
          }
}


export function refConv3d(x: ArrayLike<number>, xs: S5, w: ArrayLike<number>, ws: S5, b: ArrayLike<number> | null, s: T3, p: T3): Float64Array {
  const ys = convOutShape(xs, ws, s, p);
  const y = new Float64Array(size(ys));
  forEachTriple(xs, ws, s, p, (yi, xi, wi) => (y[yi] += x[xi] * w[wi]));
  if (b) {
    const v = ys[2] * ys[3] * ys[4];
    for (let i = 0; i < y.length; i++) y[i] += b[Math.floor(i / v) % ys[1]];
  }
  return y;
}

export function refConv3dDx(dy: ArrayLike<number>, w: ArrayLike<number>, ws: S5, xs: S5, s: T3, p: T3): Float64Array {
  const dx = new Float64Array(size(xs));
  forEachTriple(xs, ws, s, p, (yi, xi, wi) => (dx[xi] += dy[yi] * w[wi]));
  return dx;
}

export function refConv3dDw(dy: ArrayLike<number>, x: ArrayLike<number>, xs: S5, ws: S5, s: T3, p: T3): Float64Array {
  const dw = new Float64Array(size(ws));
  forEachTriple(xs, ws, s, p, (yi, xi, wi) => (dw[wi] += dy[yi] * x[xi]));
  return dw;
}

/** Σ over batch and voxels per channel. */
export function refBiasGrad(dy: ArrayLike<number>, ys: S5): Float64Array {
  const [N, C] = ys;
  const v = ys[2] * ys[3] * ys[4];
  const db = new Float64Array(C);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let j = 0; j < v; j++) db[c] += dy[(n * C + c) * v + j];
  return db;
}

// ---- ConvTranspose3d, from its own definition: y[n, o, z·s − p + a] += x[n, i, z] · W[i, o, a] ----

export function convTOutShape(xs: S5, ws: S5, s: T3, p: T3, op: T3 = [0, 0, 0]): S5 {
  return [xs[0], ws[1], ...([0, 1, 2].map((d) => (xs[2 + d] - 1) * s[d] - 2 * p[d] + ws[2 + d] + op[d])) as T3];
}

function forEachTripleT(xs: S5, ws: S5, s: T3, p: T3, op: T3, f: (yi: number, xi: number, wi: number) => void): void {
  const [N, C, D, H, W] = xs;
  const [, O, KD, KH, KW] = ws;
  const [, , OD, OH, OW] = convTOutShape(xs, ws, s, p, op);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < C; i++)
      for (let z = 0; z < D; z++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) {
            const xi = (((n * C + i) * D + z) * H + y) * W + x;
            for (let o = 0; o < O; o++)
              for (let a = 0; a < KD; a++) {
                const oz = z * s[0] - p[0] + a;
                if (oz < 0 || oz >= OD) continue;
                for (let b = 0; b < KH; b++) {
                  const oy = y * s[1] - p[1] + b;
                  if (oy < 0 || oy >= OH) continue;
                  for (let c = 0; c < KW; c++) {
                    const ox = x * s[2] - p[2] + c;
                    if (ox < 0 || ox >= OW) continue;
                    f((((n * O + o) * OD + oz) * OH + oy) * OW + ox, xi, (((i * O + o) * KD + a) * KH + b) * KW + c);
                  }
                }
              }
          }
}

export function refConvT3d(x: ArrayLike<number>, xs: S5, w: ArrayLike<number>, ws: S5, b: ArrayLike<number> | null, s: T3, p: T3, op: T3 = [0, 0, 0]): Float64Array {
  const ys = convTOutShape(xs, ws, s, p, op);
  const y = new Float64Array(size(ys));
  forEachTripleT(xs, ws, s, p, op, (yi, xi, wi) => (y[yi] += x[xi] * w[wi]));
  if (b) {
    const v = ys[2] * ys[3] * ys[4];
    for (let i = 0; i < y.length; i++) y[i] += b[Math.floor(i / v) % ys[1]];
  }
  return y;
}

export function refConvT3dDx(dy: ArrayLike<number>, w: ArrayLike<number>, ws: S5, xs: S5, s: T3, p: T3, op: T3 = [0, 0, 0]): Float64Array {
  const dx = new Float64Array(size(xs));
  forEachTripleT(xs, ws, s, p, op, (yi, xi, wi) => (dx[xi] += dy[yi] * w[wi]));
  return dx;
}

export function refConvT3dDw(dy: ArrayLike<number>, x: ArrayLike<number>, xs: S5, ws: S5, s: T3, p: T3, op: T3 = [0, 0, 0]): Float64Array {
  const dw = new Float64Array(size(ws));
  forEachTripleT(xs, ws, s, p, op, (yi, xi, wi) => (dw[wi] += dy[yi] * x[xi]));
  return dw;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Kernels allocate their outputs from the pool, so poison the pool instead: a few NaN-filled free buffers of the
 * output's size class are what the next allocations of that class receive (f32 NaN, or the f16 NaN 0x7e00 in both
 * halves of every word).
 */
export function poisonPool(e: Engine, shape: readonly number[], dtype: DType = 'f32', count = 3): void {
  const ts = Array.from({ length: count }, () => e.empty(shape, dtype));
  for (const t of ts) {
    if (dtype === 'f32') poison(t);
    else e.rt.write(t.buffer, 0, new Uint32Array(t.storage.bytes / 4).fill(dtype === 'f16' ? 0x7e007e00 : 0x7fc00000));
  }
  for (const t of ts) t.dispose();
}

/** One conv test case: input and weight shapes, stride, padding, and whether it has a bias. */
export interface ConvCase {
  xs: S5;
  ws: S5;
  s: T3;
  p: T3;
  bias?: boolean;
}

export const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
