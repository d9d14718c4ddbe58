// Float64 CPU references of the domain-randomisation transforms, written from the spec (§4.3, §4.6, §4.7) and MONAI's
// documented semantics, for the GPU kernels' tests.
import { normalFromWord, philoxCpu, seedKey } from '../../kernels/random.js';
import { erf } from '../../kernels/drand/blur.js';

export type Dims = [number, number, number];

/** Direct DFT along one axis of interleaved complex data (re, im) with dims `dims`. */
export function dftAxis(x: Float64Array, dims: number[], axis: number, inverse: boolean): Float64Array {
  const n = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const out = new Float64Array(x.length);
  const sign = inverse ? 1 : -1;
  const cs = Float64Array.from({ length: n }, (_, q) => Math.cos((2 * Math.PI * q) / n));
  const sn = Float64Array.from({ length: n }, (_, q) => sign * Math.sin((2 * Math.PI * q) / n));
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++)
      for (let k = 0; k < n; k++) {
        let re = 0;
        let im = 0;
        for (let j = 0; j < n; j++) {
          const q = (j * k) % n;
          const idx = 2 * ((o * n + j) * inner + i);
          re += x[idx] * cs[q] - x[idx + 1] * sn[q];
          im += x[idx] * sn[q] + x[idx + 1] * cs[q];
        }
        const idx = 2 * ((o * n + k) * inner + i);
        out[idx] = inverse ? re / n : re;
        out[idx + 1] = inverse ? im / n : im;
      }
  return out;
}

export function dft3(x: Float64Array, dims: Dims, inverse = false): Float64Array {
  let y = x;
  for (const a of [0, 1, 2]) y = dftAxis(y, dims, a, inverse);
  return y;
}

export function realToComplex(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(2 * x.length);
  for (let i = 0; i < x.length; i++) out[2 * i] = x[i];
  return out;
}

export function realOf(c: Float64Array): Float64Array {
  const out = new Float64Array(c.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = c[2 * i];
  return out;
}

function legendre(t: number): number[] {
  return [1, t, 0.5 * (3 * t * t - 1), 0.5 * (5 * t * t * t - 3 * t)];
}

export function linspace(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => (n === 1 ? -1 : -1 + (2 * i) / (n - 1)));
}

/** The bias field Σ c_ijk P_i(z) P_j(y) P_k(x) (coefficients in lexicographic order of (i, j, k)). */
export function biasFieldRef(dims: Dims, coeffs: number[]): Float64Array {
  const [d, h, w] = dims;
  const [cz, cy, cx] = [linspace(d), linspace(h), linspace(w)];
  const out = new Float64Array(d * h * w);
  for (let z = 0; z < d; z++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const [pz, py, px] = [legendre(cz[z]), legendre(cy[y]), legendre(cx[x])];
        let f = 0;
        let c = 0;
        for (let i = 0; i <= 3; i++) for (let j = 0; j <= 3 - i; j++) for (let k = 0; k <= 3 - i - j; k++) f += coeffs[c++] * pz[i] * py[j] * px[k];
        out[(z * h + y) * w + x] = f;
      }
  return out;
}

/**
 * The two standard normals the GPU's noise kernels draw for voxel i: the exact sampler (normalFromWord, the same
 * f32 values as philox_normal) of the first two words of Philox(key = seed, ctr = (i, 0, stream, 0)).
 */
export function voxelNormals(seed: number, stream: number, i: number): [number, number] {
  const wds = philoxCpu([i, 0, stream, 0], seedKey(seed));
  return [normalFromWord(wds[0]), normalFromWord(wds[1])];
}

const fr = Math.fround;

/** Gaussian noise as the kernel computes it in f32, (x + mean) + fl(std · n1): bit-identical to the GPU. */
export function gaussianNoiseF32(x: ArrayLike<number>, mean: number, std: number, seed: number, stream: number): Float32Array {
  return Float32Array.from({ length: x.length }, (_, i) => fr(fr(fr(x[i]) + fr(mean)) + fr(fr(std) * voxelNormals(seed, stream, i)[0])));
}

/**
 * Rician noise as the kernel computes it in f32 (products rounded before each sum, a correctly rounded sqrt, as the
 * kernel's sqrt_rn): bit-identical to the GPU.
 */
export function ricianNoiseF32(x: ArrayLike<number>, mean: number, std: number, seed: number, stream: number): Float32Array {
  const [m, s] = [fr(mean), fr(std)];
  return Float32Array.from({ length: x.length }, (_, i) => {
    const [n1, n2] = voxelNormals(seed, stream, i);
    const re = fr(fr(fr(x[i]) + m) + fr(s * n1));
    const im = fr(m + fr(s * n2));
    return fr(Math.sqrt(fr(fr(re * re) + fr(im * im))));
  });
}

export function minMax(x: ArrayLike<number>): [number, number] {
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < x.length; i++) {
    mn = Math.min(mn, x[i]);
    mx = Math.max(mx, x[i]);
  }
  return [mn, mx];
}

export function contrastRef(x: ArrayLike<number>, gamma: number): Float64Array {
  const [mn, mx] = minMax(x);
  const range = mx - mn;
  return Float64Array.from(x, (v) => Math.pow((v - mn) / (range + 1e-7), gamma) * range + mn);
}

/** MONAI RandHistogramShift with its interp(): slope/intercept of segment clamp(#(xp ≤ x) − 1, 0, n − 2). */
export function histShiftRef(x: ArrayLike<number>, floating: number[]): Float64Array {
  const [mn, mx] = minMax(x);
  if (mn === mx) return Float64Array.from(x);
  const n = floating.length;
  const xp = Array.from({ length: n }, (_, i) => (i / (n - 1)) * (mx - mn) + mn);
  const fp = floating.map((f) => f * (mx - mn) + mn);
  return Float64Array.from(x, (v) => {
    let idx = -1;
    for (const q of xp) if (v >= q) idx++;
    idx = Math.min(Math.max(idx, 0), n - 2);
    const m = (fp[idx + 1] - fp[idx]) / (xp[idx + 1] - xp[idx]);
    return m * v + (fp[idx] - m * xp[idx]);
  });
}

/** MONAI's erf Gaussian kernel, written independently of kernels/drand/blur.ts's weight function. */
export function monaiKernel(sigma: number, truncated = 4): number[] {
  const tail = Math.trunc(Math.max(sigma * truncated, 0.5) + 0.5);
  const out: number[] = [];
  for (let x = -tail; x <= tail; x++) {
    if (sigma === 0) out.push(x === 0 ? 1 : 0);
    else out.push(Math.max(0, 0.5 * (erf((x + 0.5) / (sigma * Math.SQRT2)) - erf((x - 0.5) / (sigma * Math.SQRT2)))));
  }
  return out;
}

/** Zero-padded 1D convolution along axis a of a [d, h, w] volume. */
export function convAxisRef(x: ArrayLike<number>, dims: Dims, axis: number, wts: number[]): Float64Array {
  const [d, h, w] = dims;
  const st = [h * w, w, 1][axis];
  const len = dims[axis];
  const tail = (wts.length - 1) / 2;
  const out = new Float64Array(d * h * w);
  for (let i = 0; i < out.length; i++) {
    const pos = Math.floor(i / st) % len;
    let acc = 0;
    for (let t = 0; t < wts.length; t++) {
      const q = pos + t - tail;
      if (q >= 0 && q < len) acc += wts[t] * x[i + (q - pos) * st];
    }
    out[i] = acc;
  }
  return out;
}

export function gaussianFilterRef(x: ArrayLike<number>, dims: Dims, sigma: number[], truncated = 4): Float64Array {
  let y: Float64Array = Float64Array.from(x);
  for (let a = 0; a < 3; a++) y = convAxisRef(y, dims, a, monaiKernel(sigma[a], truncated));
  return y;
}

/** fftshift-ed coordinate of unshifted index u along an axis of length n. */
export function shifted(u: number, n: number): number {
  return (u + Math.floor(n / 2)) % n;
}
