import { describe, expect, it } from 'vitest';
import { convAxis, erf, gaussianAxis, gaussianKernel1d } from '../../kernels/drand/blur.js';
import { STREAM } from '../../kernels/drand/pointwise.js';
import { stats } from '../../kernels/drand/reduce.js';
import {
  adjustContrast,
  applyIntensity,
  biasField,
  clampVolume,
  gaussianNoise,
  gaussianSharpen,
  gaussianSmooth,
  gibbsNoise,
  histogramShift,
  kspaceSpike,
  ricianNoise,
} from '../../src/data/drand/intensity.js';
import { legendreTerms, ParamRng, sampleHistogramShift, sampleIntensityAll, type IntensityParams } from '../../src/data/drand/params.js';
import type { Engine } from '../../src/engine.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { getEngine, poison, randArray, relErr } from '../helpers.js';
import {
  biasFieldRef,
  contrastRef,
  dft3,
  gaussianFilterRef,
  histShiftRef,
  linspace,
  realOf,
  realToComplex,
  shifted,
  voxelNormals,
  gaussianNoiseF32,
  ricianNoiseF32,
  type Dims,
} from './reference.js';

const DIMS: Dims = [9, 10, 11];
const N = 990;

function poisonNext(e: Engine, shape: number[]): void {
  const t = e.empty(shape);
  poison(t);
  t.dispose();
}

async function run(e: Engine, x: Float64Array, dims: number[], fn: (t: Tensor) => Tensor): Promise<Float32Array> {
  const t = e.tensor(x, dims);
  poisonNext(e, dims);
  const y = fn(t);
  const out = (await y.read()) as Float32Array;
  t.dispose();
  y.dispose();
  return out;
}

/** The spike reference: unshifted K, log-amplitude v set at the shifted location, Re(ifft). */
function spikeRef(x: Float64Array, dims: Dims, loc: number[], u: number): { out: Float64Array; k: Float64Array; idx: number; v: number } {
  const k = dft3(realToComplex(x), dims);
  let sum = 0;
  for (let i = 0; i < k.length / 2; i++) sum += Math.log(Math.hypot(k[2 * i], k[2 * i + 1]) + 1e-10);
  const m = (2.5 * sum) / (k.length / 2);
  const v = m * (0.95 + 0.15 * u);
  const un = loc.map((s, a) => (s + Math.ceil(dims[a] / 2)) % dims[a]);
  const idx = (un[0] * dims[1] + un[1]) * dims[2] + un[2];
  const k2 = Float64Array.from(k);
  const mag = Math.hypot(k[2 * idx], k[2 * idx + 1]);
  k2[2 * idx] = (Math.exp(v) * k[2 * idx]) / mag;
  k2[2 * idx + 1] = (Math.exp(v) * k[2 * idx + 1]) / mag;
  return { out: realOf(dft3(k2, dims, true)), k, idx, v };
}

function gibbsRef(x: Float64Array, dims: Dims, alpha: number): Float64Array {
  const k = dft3(realToComplex(x), dims);
  const r = ((1 - alpha) * Math.max(...dims) * Math.SQRT2) / 2;
  maskOutside(k, dims, r);
  return realOf(dft3(k, dims, true));
}

function distance(i: number, dims: Dims, mirror = false): number {
  const [d, h, w] = dims;
  let c = [Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w];
  if (mirror) c = c.map((u, a) => (dims[a] - u) % dims[a]);
  return Math.hypot(...c.map((u, a) => shifted(u, dims[a]) - (dims[a] - 1) / 2));
}

function maskOutside(k: Float64Array, dims: Dims, r: number): void {
  for (let i = 0; i < k.length / 2; i++) if (distance(i, dims) > r) k[2 * i] = k[2 * i + 1] = 0;
}

function cpuChain(x: Float64Array, dims: Dims, p: IntensityParams): Float64Array {
  let y: Float64Array = Float64Array.from(x);
  const b = p.biasField!;
  const f = biasFieldRef(dims, b.coeffs);
  y = y.map((v, i) => v * Math.exp(f[i]));
  const g = p.gaussianNoise!;
  y = y.map((v, i) => v + g.mean + g.std * voxelNormals(g.seed, STREAM.gaussian, i)[0]);
  y = spikeRef(y, dims, p.kspaceSpike!.loc, p.kspaceSpike!.u).out;
  y = contrastRef(y, p.contrast!.gamma);
  y = gaussianFilterRef(y, dims, p.smooth!.sigma);
  const r = p.rician!;
  y = y.map((v, i) => {
    const [n1, n2] = voxelNormals(r.seed, STREAM.rician, i);
    return Math.hypot(v + r.mean + r.std * n1, r.mean + r.std * n2);
  });
  y = gibbsRef(y, dims, p.gibbs!.alpha);
  const s = p.sharpen!;
  const b1 = gaussianFilterRef(y, dims, s.sigma1);
  const b2 = gaussianFilterRef(b1, dims, s.sigma2);
  y = b1.map((v, i) => v + s.alpha * (v - b2[i]));
  y = histShiftRef(y, p.histogramShift!.floating);
  return y.map((v) => Math.min(1, Math.max(0, v)));
}

describe('intensity chain kernels', () => {
  it('erf and the MONAI Gaussian kernel', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 14);
    expect(erf(3.5)).toBeCloseTo(0.9999992569016276, 14);
    const k = gaussianKernel1d(1, 4);
    expect(k.length).toBe(9);
    expect(k[4]).toBeCloseTo(0.38292492254802624, 12);
    const sum = k.reduce((a, b) => a + b, 0);
    expect(sum).toBeLessThan(1);
    expect(sum).toBeGreaterThan(0.9999);
    expect(Array.from(gaussianKernel1d(0))).toEqual([0, 1, 0]);
    expect(gaussianKernel1d(0.1).length).toBe(3);
    expect(gaussianKernel1d(20, 3).length).toBe(121);
  });

  it('bias field matches the float64 reference and is exactly a degree-3 Legendre polynomial', async () => {
    const e = await getEngine();
    const rng = new ParamRng(1);
    const coeffs = Array.from({ length: 20 }, () => rng.uniform(-0.2, 0.2));
    const x = randArray(N, 2, 0, 1);
    const out = await run(e, x, DIMS, (t) => biasField(t, { coeffs }));
    const f = biasFieldRef(DIMS, coeffs);
    expect(relErr(out, x.map((v, i) => v * Math.exp(f[i])))).toBeLessThan(1e-5);
    // On a constant volume log(out) is the field: fit the 20 products P_i P_j P_k back by least squares.
    const ones = await run(e, new Float64Array(N).fill(1), DIMS, (t) => biasField(t, { coeffs }));
    const logf = Array.from(ones, Math.log);
    const terms = legendreTerms(3);
    const [cz, cy, cx] = DIMS.map(linspace);
    const P = (n: number, t: number) => [1, t, 0.5 * (3 * t * t - 1), 0.5 * (5 * t ** 3 - 3 * t)][n];
    const A: number[][] = [];
    for (let z = 0; z < DIMS[0]; z++) for (let y = 0; y < DIMS[1]; y++) for (let xx = 0; xx < DIMS[2]; xx++) A.push(terms.map(([i, j, k]) => P(i, cz[z]) * P(j, cy[y]) * P(k, cx[xx])));
    const fit = leastSquares(A, logf);
    const resid = Math.sqrt(A.reduce((s, row, r) => s + (row.reduce((a, v, c) => a + v * fit[c], 0) - logf[r]) ** 2, 0) / N);
    expect(resid).toBeLessThan(1e-6);
    expect(relErr(fit, coeffs)).toBeLessThan(1e-4);
  });

  it('Gaussian and Rician noise reproduce the Philox reference bit for bit and have the requested σ', async () => {
    const e = await getEngine();
    const x = randArray(N, 3, 0, 1);
    const p = { mean: 0.05, std: 0.2, seed: 2 ** 40 + 17 };
    const g = await run(e, x, DIMS, (t) => gaussianNoise(t, p));
    expect(relErr(g, x.map((v, i) => v + p.mean + p.std * voxelNormals(p.seed, STREAM.gaussian, i)[0]))).toBeLessThan(1e-6);
    // Exact normals and products rounded before the sums: the f32 emulation gives the GPU's bits.
    const xf = Float32Array.from(x);
    expect(Array.from(g)).toEqual(Array.from(gaussianNoiseF32(xf, p.mean, p.std, p.seed, STREAM.gaussian)));
    const r = await run(e, x, DIMS, (t) => ricianNoise(t, p));
    const rr = x.map((v, i) => {
      const [a, b] = voxelNormals(p.seed, STREAM.rician, i);
      return Math.hypot(v + p.mean + p.std * a, p.mean + p.std * b);
    });
    expect(relErr(r, rr)).toBeLessThan(1e-6);
    // Bit for bit too: the kernel corrects the adapter's sqrt to the correctly rounded one (sqrt_rn).
    expect(Array.from(r)).toEqual(Array.from(ricianNoiseF32(xf, p.mean, p.std, p.seed, STREAM.rician)));
    // Statistics on a constant volume of 32³.
    const n = 32 ** 3;
    const c = await run(e, new Float64Array(n).fill(0.5), [32, 32, 32], (t) => gaussianNoise(t, { mean: 0, std: 0.2, seed: 5 }));
    const mean = c.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(c.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.004);
    expect(Math.abs(sd - 0.2) / 0.2).toBeLessThan(0.02);
    // Rician noise of a zero signal is Rayleigh: E[x²] = 2σ².
    const z = await run(e, new Float64Array(n), [32, 32, 32], (t) => ricianNoise(t, { mean: 0, std: 0.1, seed: 6 }));
    const m2 = z.reduce((a, b) => a + b * b, 0) / n;
    expect(Math.abs(m2 - 0.02) / 0.02).toBeLessThan(0.03);
    // Same seed, same bytes; another seed, other numbers.
    const again = await run(e, x, DIMS, (t) => gaussianNoise(t, p));
    expect(Buffer.from(again.buffer).equals(Buffer.from(g.buffer))).toBe(true);
    const other = await run(e, x, DIMS, (t) => gaussianNoise(t, { ...p, seed: 3 }));
    expect(relErr(other, g)).toBeGreaterThan(0.01);
  });

  it('statistics reduce min, max, sum and mean per segment, and of log|K|', async () => {
    const e = await getEngine();
    const n = 3 * 5000;
    const x = randArray(n, 4, -2, 3);
    const t = e.tensor(x, [3, 5000]);
    const s = await stats(t, { segments: 3 }).read();
    for (let c = 0; c < 3; c++) {
      const seg = x.subarray(c * 5000, (c + 1) * 5000);
      const sum = seg.reduce((a, b) => a + b, 0);
      expect(s[4 * c]).toBe(Math.fround(Math.min(...seg)));
      expect(s[4 * c + 1]).toBe(Math.fround(Math.max(...seg)));
      expect(Math.abs(s[4 * c + 2] - sum) / Math.abs(sum)).toBeLessThan(1e-4);
      expect(Math.abs(s[4 * c + 3] - sum / 5000)).toBeLessThan(1e-4 * Math.abs(sum / 5000) + 1e-6);
    }
    const k = e.tensor(x, [n / 2, 2]);
    const sl = await stats(k, { logAbs: true }).read();
    let ls = 0;
    for (let i = 0; i < n / 2; i++) ls += Math.log(Math.hypot(x[2 * i], x[2 * i + 1]) + 1e-10);
    expect(Math.abs(sl[2] - ls) / Math.abs(ls)).toBeLessThan(1e-4);
    expect(() => stats(t, { segments: 7 })).toThrow(/cannot be split into 7 segments/);
  });

  it('k-space spike: float64 reference, and the spike sits at the chosen location with the chosen magnitude', async () => {
    const e = await getEngine();
    const x = randArray(N, 5, 0, 1);
    const p = { loc: [2, 7, 4] as [number, number, number], u: 0.3 };
    const out = await run(e, x, DIMS, (t) => kspaceSpike(t, p));
    const ref = spikeRef(x, DIMS, p.loc, p.u);
    expect(relErr(out, ref.out)).toBeLessThan(1e-4);
    // Spectrum of the output = K + (Δ at k0 + conj(Δ) at −k0) / 2, and K everywhere else.
    const ko = dft3(realToComplex(out), DIMS);
    const [d, h, w] = DIMS;
    const k0 = [Math.floor(ref.idx / (h * w)), Math.floor(ref.idx / w) % h, ref.idx % w];
    const mirror = (((d - k0[0]) % d) * h + ((h - k0[1]) % h)) * w + ((w - k0[2]) % w);
    let elsewhere = 0;
    let scale = 0;
    for (let i = 0; i < N; i++) {
      scale = Math.max(scale, Math.hypot(ref.k[2 * i], ref.k[2 * i + 1]));
      if (i === ref.idx || i === mirror) continue;
      elsewhere = Math.max(elsewhere, Math.hypot(ko[2 * i] - ref.k[2 * i], ko[2 * i + 1] - ref.k[2 * i + 1]));
    }
    expect(elsewhere / scale).toBeLessThan(1e-5);
    const kmag = Math.hypot(ref.k[2 * ref.idx], ref.k[2 * ref.idx + 1]);
    const spike = { re: (Math.exp(ref.v) * ref.k[2 * ref.idx]) / kmag, im: (Math.exp(ref.v) * ref.k[2 * ref.idx + 1]) / kmag };
    const want = { re: ref.k[2 * ref.idx] + (spike.re - ref.k[2 * ref.idx]) / 2, im: ref.k[2 * ref.idx + 1] + (spike.im - ref.k[2 * ref.idx + 1]) / 2 };
    expect(Math.hypot(ko[2 * ref.idx] - want.re, ko[2 * ref.idx + 1] - want.im) / Math.exp(ref.v)).toBeLessThan(1e-5);
    // A fixed log-intensity and a 2-channel volume (channel-wise means).
    const x2 = randArray(2 * N, 6, 0, 1);
    const o2 = await run(e, x2, [2, ...DIMS], (t) => kspaceSpike(t, p));
    for (let c = 0; c < 2; c++) {
      const rc = spikeRef(x2.subarray(c * N, (c + 1) * N), DIMS, p.loc, p.u).out;
      expect(relErr(o2.subarray(c * N, (c + 1) * N), rc)).toBeLessThan(1e-4);
    }
    const fixed = await run(e, x, DIMS, (t) => kspaceSpike(t, { ...p, intensity: 3 }));
    const kf = dft3(realToComplex(fixed), DIMS);
    const half = Math.hypot(kf[2 * ref.idx] - ref.k[2 * ref.idx] / 2, kf[2 * ref.idx + 1] - ref.k[2 * ref.idx + 1] / 2);
    expect(Math.abs(half - Math.exp(3) / 2) / Math.exp(3)).toBeLessThan(1e-4);
  });

  it('Gibbs ringing: float64 reference, and no energy outside the k-space radius', async () => {
    const e = await getEngine();
    for (const dims of [DIMS, [9, 11, 13] as Dims]) {
      const n = dims[0] * dims[1] * dims[2];
      const x = randArray(n, 7, 0, 1);
      const alpha = 0.45;
      const out = await run(e, x, dims, (t) => gibbsNoise(t, { alpha }));
      expect(relErr(out, gibbsRef(x, dims, alpha))).toBeLessThan(1e-4);
      const k = dft3(realToComplex(out), dims);
      const r = ((1 - alpha) * Math.max(...dims) * Math.SQRT2) / 2;
      let outside = 0;
      let total = 0;
      let counted = 0;
      for (let i = 0; i < n; i++) {
        const en = k[2 * i] ** 2 + k[2 * i + 1] ** 2;
        total += en;
        // Re() mirrors the kept set through DC; for odd sizes the mirror is the set itself.
        if (distance(i, dims) > r && distance(i, dims, true) > r) {
          outside += en;
          counted++;
        }
      }
      expect(counted).toBeGreaterThan(n / 10);
      expect(outside / total).toBeLessThan(1e-10);
    }
  });

  it('contrast, histogram shift and clamp match float64 references; a constant image passes the shift unchanged', async () => {
    const e = await getEngine();
    const x = randArray(N, 8, -0.3, 1.2);
    const c = await run(e, x, DIMS, (t) => adjustContrast(t, { gamma: 0.7 }));
    expect(relErr(c, contrastRef(Float32Array.from(x), 0.7))).toBeLessThan(1e-5);
    const hp = sampleHistogramShift(new ParamRng(3));
    expect(hp.floating.length).toBeGreaterThanOrEqual(10);
    expect(hp.floating.length).toBeLessThanOrEqual(25);
    for (let i = 1; i < hp.floating.length; i++) expect(hp.floating[i]).toBeGreaterThanOrEqual(hp.floating[i - 1]);
    const hs = await run(e, x, DIMS, (t) => histogramShift(t, hp));
    expect(relErr(hs, histShiftRef(Float32Array.from(x), hp.floating))).toBeLessThan(1e-5);
    // More control points than the uniform block carries (32): uploaded instead.
    const many = { floating: Array.from({ length: 40 }, (_, i) => (i / 39) ** 1.7) };
    const hm = await run(e, x, DIMS, (t) => histogramShift(t, many));
    expect(relErr(hm, histShiftRef(Float32Array.from(x), many.floating))).toBeLessThan(1e-5);
    const k = await run(e, new Float64Array(N).fill(0.25), DIMS, (t) => histogramShift(t, hp));
    expect(k.every((v) => v === 0.25)).toBe(true);
    const cl = await run(e, x, DIMS, (t) => clampVolume(t));
    expect(Array.from(cl)).toEqual(Array.from(x, (v) => Math.fround(Math.min(1, Math.max(0, v)))));
  });

  it('Gaussian smoothing and sharpening match float64 references (erf kernel, zero padding)', async () => {
    const e = await getEngine();
    const x = randArray(N, 9, 0, 1);
    for (const sigma of [
      [0.8, 1.3, 0.4],
      [0, 2, 0],
      [1.7, 0, 0.25],
    ]) {
      const s = await run(e, x, DIMS, (t) => gaussianSmooth(t, { sigma: sigma as Dims }));
      expect(relErr(s, gaussianFilterRef(x, DIMS, sigma)), `σ ${sigma}`).toBeLessThan(1e-5);
    }
    const sp = { sigma1: [0.9, 0.6, 0.75] as Dims, sigma2: [0.55, 0.5, 0.7] as Dims, alpha: 14 };
    const sh = await run(e, x, DIMS, (t) => gaussianSharpen(t, sp));
    const b1 = gaussianFilterRef(x, DIMS, sp.sigma1);
    const b2 = gaussianFilterRef(b1, DIMS, sp.sigma2);
    expect(relErr(sh, b1.map((v, i) => v + sp.alpha * (v - b2[i])))).toBeLessThan(1e-5);
    // Weights computed on the GPU (erf approximation) against uploaded float64 weights, zero and reflect padding,
    // up to Rand3DElastic's σ 20 with truncation 3 (121 taps).
    const long = randArray(3 * 70 * 2, 13, 0, 1);
    const lt = e.tensor(long, [3, 70, 2]);
    for (const [sg, tr] of [
      [0.3, 4],
      [1.7, 4],
      [20, 3],
    ]) {
      for (const pad of ['zeros', 'reflect'] as const) {
        const g = await gaussianAxis(lt, 1, sg, tr, pad).read();
        const c = await convAxis(lt, 1, gaussianKernel1d(sg, tr), pad).read();
        expect(relErr(g, c), `σ ${sg} ${pad}`).toBeLessThan(2e-6);
      }
    }
    lt.dispose();
    // Reflect padding (scipy.ndimage "reflect") along the last axis.
    const line = [1, 2, 3, 4, 5];
    const t = e.tensor(line, [1, 1, 5]);
    expect(Array.from(await convAxis(t, 2, [1, 0, 0, 0, 2], 'reflect').read())).toEqual([2 + 6, 1 + 8, 1 + 10, 2 + 10, 3 + 8]); // x[−2] = x1, x[−1] = x0, x[5] = x4, x[6] = x3
    expect(Array.from(await convAxis(t, 2, [1, 0, 0, 0, 2], 'zeros').read())).toEqual([6, 8, 11, 2, 3]);
  });

  it('the whole chain matches the composed float64 references and is byte-identical per seed', async () => {
    const e = await getEngine();
    const dims: Dims = [12, 10, 9];
    const n = 1080;
    const x = randArray(n, 10, 0, 1);
    const p = sampleIntensityAll(new ParamRng(77), dims);
    const steps: string[] = [];
    const a = await run(e, x, dims, (t) => applyIntensity(t, p, { onStep: (s) => steps.push(s) }));
    expect(steps).toEqual(['biasField', 'gaussianNoise', 'kspaceSpike', 'contrast', 'smooth', 'rician', 'gibbs', 'sharpen', 'histogramShift', 'clamp']);
    expect(relErr(a, cpuChain(x, dims, p))).toBeLessThan(1e-4);
    expect(a.every((v) => v >= 0 && v <= 1)).toBe(true);
    const b = await run(e, x, dims, (t) => applyIntensity(t, sampleIntensityAll(new ParamRng(77), dims)));
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    const live = e.liveTensors;
    // The whole chain is recorded without a submit: nothing is uploaded or read back on the way.
    const c = await run(e, x, dims, (t) => {
      const p78 = sampleIntensityAll(new ParamRng(78), dims);
      const submits = e.rt.stats.submits;
      const y = applyIntensity(t, p78);
      expect(e.rt.stats.submits).toBe(submits);
      return y;
    });
    expect(relErr(c, a)).toBeGreaterThan(1e-3);
    expect(e.liveTensors).toBe(live);
  });

  it('rejects bad volumes and parameters with one clear line', async () => {
    const e = await getEngine();
    const flat = e.tensor([1, 2, 3], [3]);
    expect(() => biasField(flat, { coeffs: new Array(20).fill(0) })).toThrow(/expected a volume \[\.\.\., D, H, W\], got shape \[3\]/);
    const v = e.tensor(randArray(N, 1), DIMS);
    expect(() => biasField(v, { coeffs: [1, 2] })).toThrow(/20 Legendre coefficients/);
    expect(() => kspaceSpike(v, { loc: [9, 0, 0], u: 0 })).toThrow(/location \[9, 0, 0\] outside the volume \[9, 10, 11\]/);
    expect(() => gaussianSmooth(v, { sigma: [-1, 0, 0] })).toThrow(/sigma -1 must be ≥ 0/);
    expect(() => gaussianNoise(v, { mean: 0, std: NaN, seed: 1 })).toThrow(/std must be finite/);
    flat.dispose();
    v.dispose();
  });
});

/** Least squares by normal equations with Gaussian elimination (float64; the design here is well conditioned). */
function leastSquares(A: number[][], b: number[]): number[] {
  const m = A[0].length;
  const M = Array.from({ length: m }, () => new Float64Array(m + 1));
  for (let r = 0; r < A.length; r++)
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) M[i][j] += A[r][i] * A[r][j];
      M[i][m] += A[r][i] * b[r];
    }
  for (let c = 0; c < m; c++) {
    let piv = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = 0; r < m; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let j = c; j <= m; j++) M[r][j] -= f * M[c][j];
    }
  }
  return Array.from({ length: m }, (_, i) => M[i][m] / M[i][i]);
}
