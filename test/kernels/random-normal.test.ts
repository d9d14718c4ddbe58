// The exact normal sampler (philox_normal / normalFromWord): accuracy of the fixed-point inverse CDF against a
// float64 normal CDF, monotonicity across its table pieces, GPU == CPU bit for bit, and the distribution of a
// large GPU draw (moments, Kolmogorov–Smirnov against Φ, tail masses beyond 3σ and 4σ).
import { describe, expect, it } from 'vitest';
import { normal, normalCpu, normalFromWord, randomBitsCpu, randomInto } from '../../kernels/random.js';
import { roundF16 } from '../../src/tensor/f16.js';
import { getEngine, poison } from '../helpers.js';

const SQRT2PI = Math.sqrt(2 * Math.PI);
const pdf = (x: number) => Math.exp(-0.5 * x * x) / SQRT2PI;

/** Upper tail Q(x) = 1 − Φ(x) for x ≥ 0 in float64 (relative error ~1e-14): series below 3, continued fraction above. */
function upperTail(x: number): number {
  if (x < 3) {
    // Φ(x) − 1/2 = φ(x) Σ x^(2k+1) / (1·3·5···(2k+1)), all terms positive.
    let term = x;
    let sum = x;
    for (let k = 1; k < 200 && term > 1e-18 * sum; k++) {
      term *= (x * x) / (2 * k + 1);
      sum += term;
    }
    return 0.5 - pdf(x) * sum;
  }
  // Q(x) = φ(x) / (x + 1/(x + 2/(x + 3/(x + …)))), evaluated from the back.
  let f = x;
  for (let k = 300; k >= 1; k--) f = x + k / f;
  return pdf(x) / f;
}
const cdf = (x: number) => (x >= 0 ? 1 - upperTail(x) : upperTail(-x));

/** The error in z of the sampled value for word w: (Q(|z|) − p) / φ(z), p = (m + 1/2)·2^-32. */
function zError(w: number): number {
  const z = Math.abs(normalFromWord(w));
  const p = ((w & 0x7fffffff) + 0.5) * 2 ** -32;
  return (upperTail(z) - p) / pdf(z);
}

describe('normal sampler (integer inverse CDF)', () => {
  it('the float64 CDF used below is right (known values)', () => {
    expect(upperTail(0)).toBe(0.5);
    const known: Array<[number, number]> = [
      [1, 0.15865525393145707], [2, 0.022750131948179195], [2.5, 0.006209665325776132], [3, 0.0013498980316300933],
      [3.5, 0.00023262907903552502], [4, 3.167124183311986e-5], [6, 9.865876450376946e-10],
    ];
    for (const [x, q] of known) expect(Math.abs(upperTail(x) / q - 1), `Q(${x})`).toBeLessThan(1e-12);
    expect(Math.abs(upperTail(1.959963984540054) - 0.025)).toBeLessThan(1e-15);
  });

  it('is within 1.9e-8 + half an f32 ulp of Φ^-1 at every table piece edge and on 200k random words; symmetric', () => {
    let worst = 0;
    const bad: string[] = [];
    const check = (w: number) => {
      const z = normalFromWord(w);
      const bound = 1.9e-8 + Math.abs(z) * 2 ** -24;
      const err = Math.abs(zError(w));
      worst = Math.max(worst, err / bound);
      if (!(err <= bound)) bad.push(`w=${w.toString(16)} z=${z} error ${err}`);
      // The sign bit mirrors exactly.
      if (!Object.is(normalFromWord((w ^ 0x80000000) >>> 0), -z)) bad.push(`w=${w.toString(16)}: not symmetric`);
    };
    for (let m = 0; m < 128; m++) check(m);
    for (let b = 6; b <= 30; b++) {
      for (let piece = 0; piece < 8; piece++) {
        const start = 2 ** b + piece * 2 ** (b - 3);
        for (const d of [-2, -1, 0, 1, 2]) if (start + d < 2 ** 31) check(start + d);
      }
    }
    check(0x7fffffff);
    for (const w of randomBitsCpu(200_000, 31337)) check(w);
    console.log(`normal sampler: largest error / bound ${worst.toFixed(3)}`);
    expect(bad.slice(0, 5)).toEqual([]);
    expect(Math.abs(normalFromWord(0) - 6.3379577545537895)).toBeLessThan(2.4e-7); // the deepest tail, p = 2^-33
    expect(Math.abs(normalFromWord(0x7fffffff))).toBeLessThan(1e-8);
  });

  // Strict monotonicity cannot hold at f32 resolution (the polynomial errors of neighbouring pieces differ by a
  // few 1e-8, so the rounded values may step back by one ulp at a piece edge); a wrong piece or octave index would
  // step by far more.
  it('is monotone up to its error bound: z(m + 1) ≤ z(m) + 3.8e-8 + 1 ulp, across piece edges and dense runs', () => {
    const run = (from: number, count: number) => {
      let prev = normalFromWord(from);
      for (let m = from + 1; m < from + count && m < 2 ** 31; m++) {
        const z = normalFromWord(m);
        if (!(z <= prev + 3.8e-8 + Math.abs(prev) * 2 ** -23)) expect.fail(`z(${m}) = ${z} > z(${m - 1}) = ${prev}`);
        prev = z;
      }
    };
    run(0, 4096);
    for (let b = 6; b <= 30; b++) {
      for (let piece = 0; piece < 8; piece++) run(2 ** b + piece * 2 ** (b - 3) - 64, 128);
      run(2 ** b + 3 * 2 ** (b - 4), 2048); // the middle of a piece
    }
  });

  it('GPU normals equal the CPU reference bit for bit (standard, affine, offsets across blocks, f16)', async () => {
    const e = await getEngine();
    for (const [n, seed, offset, mean, std] of [[1001, 11, 6, 0, 1], [999, 2 ** 40 + 7, 2 ** 32 * 4 - 3, 0.5, 2], [517, 3, 1, -1.25, 0.3]]) {
      const g = e.empty([n]);
      poison(g);
      randomInto(g, 'normal', seed, offset, mean, std);
      const got = new Uint32Array((await g.read()).buffer);
      const want = new Uint32Array(Float32Array.from(normalCpu(n, seed, mean, std, offset)).buffer);
      expect(Array.from(got), `n=${n} seed=${seed} offset=${offset} mean=${mean} std=${std}`).toEqual(Array.from(want));
      g.dispose();
    }
    if (e.gpu.hasF16) {
      const h = await normal(e, [333], 0.25, 3, 5, 7, 'f16').read();
      expect(Array.from(h)).toEqual(Array.from(normalCpu(333, 5, 0.25, 3, 7), roundF16));
    }
  });

  it('a 2^20 GPU draw: moments, KS against Φ, tail masses beyond 3σ and 4σ, range', async () => {
    const e = await getEngine();
    const n = 2 ** 20;
    const t = normal(e, [n], 0, 1, 20261128);
    const x = Float64Array.from(await t.read());
    t.dispose();
    let s1 = 0;
    for (const v of x) s1 += v;
    const mean = s1 / n;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    let beyond3 = 0;
    let beyond4 = 0;
    let maxAbs = 0;
    for (const v of x) {
      const d = v - mean;
      m2 += d * d;
      m3 += d * d * d;
      m4 += d * d * d * d;
      const a = Math.abs(v);
      if (a > 3) beyond3++;
      if (a > 4) beyond4++;
      maxAbs = Math.max(maxAbs, a);
    }
    m2 /= n;
    const skew = m3 / n / m2 ** 1.5;
    const kurt = m4 / n / (m2 * m2) - 3;
    // Standard errors at n = 2^20: mean 0.00098, variance 0.0014, skewness 0.0024, excess kurtosis 0.0048.
    expect(Math.abs(mean)).toBeLessThan(5 * 0.00098);
    expect(Math.abs(m2 - 1)).toBeLessThan(5 * 0.0014);
    expect(Math.abs(skew)).toBeLessThan(5 * 0.0024);
    expect(Math.abs(kurt)).toBeLessThan(5 * 0.0048);
    // Two-sided tail masses: 2Q(3) = 2.6998e-3 and 2Q(4) = 6.334e-5 (binomial counts, 4 standard deviations).
    const e3 = 2 * upperTail(3) * n;
    const e4 = 2 * upperTail(4) * n;
    expect(Math.abs(beyond3 - e3)).toBeLessThan(4 * Math.sqrt(e3));
    expect(Math.abs(beyond4 - e4)).toBeLessThan(4 * Math.sqrt(e4));
    expect(maxAbs).toBeLessThanOrEqual(6.338);
    // Kolmogorov–Smirnov: sqrt(n)·D below 1.95 (the 0.1% critical value).
    x.sort();
    let dmax = 0;
    for (let i = 0; i < n; i++) {
      const f = cdf(x[i]);
      dmax = Math.max(dmax, (i + 1) / n - f, f - i / n);
    }
    console.log(
      `normal 2^20: mean ${mean.toExponential(2)} var ${m2.toFixed(5)} skew ${skew.toExponential(2)} exkurt ${kurt.toExponential(2)} ` +
        `>3σ ${beyond3} (expected ${e3.toFixed(1)}) >4σ ${beyond4} (expected ${e4.toFixed(1)}) max|z| ${maxAbs.toFixed(3)} KS sqrt(n)·D ${(Math.sqrt(n) * dmax).toFixed(3)}`,
    );
    expect(Math.sqrt(n) * dmax).toBeLessThan(1.95);
  });
});
