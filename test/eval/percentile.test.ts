import { describe, expect, it } from 'vitest';
import { percentile, percentiles, percentileScale } from '../../src/eval/percentile.js';
import { rng } from '../helpers.js';
import { loadRefs } from './shapes.js';

/** The integer formula the NumPy fixture used: (i · 2654435761) mod 2³². */
function hashed(n: number): Float64Array {
  const h = new Float64Array(n);
  for (let i = 0; i < n; i++) h[i] = Math.imul(i, 2654435761 | 0) >>> 0;
  return h;
}

function make(dtype: string, n: number) {
  const h = hashed(n);
  switch (dtype) {
    case 'float32':
      return Float32Array.from(h, (v) => (v / 2 ** 32) * 200 - 100);
    case 'float64':
      return Float64Array.from(h, (v) => (v / 2 ** 32) * 3 - 1);
    case 'uint16':
      return Uint16Array.from(h, (v) => v % 4099);
    case 'int16':
      return Int16Array.from(h, (v) => (v % 5003) - 2500);
    case 'uint8':
      return Uint8Array.from(h, (v) => v % 251);
  }
  throw new Error(dtype);
}

/** Sort a float64 copy and interpolate as numpy's linear method: the reference. */
function sortedRef(a: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(a).sort();
  const v = (s.length - 1) * (q / 100);
  const lo = Math.floor(v);
  const g = v - lo;
  const b = s[Math.min(lo + 1, s.length - 1)];
  const d = a instanceof Float32Array ? Math.fround(b - s[lo]) : b - s[lo]; // numpy subtracts in the dtype
  return g >= 0.5 ? b - d * (1 - g) : s[lo] + d * g;
}

describe('percentiles', () => {
  it('match numpy.percentile exactly for float32, float64, uint8, uint16 and int16 arrays', () => {
    const cases = loadRefs().percentiles;
    expect(cases.length).toBeGreaterThan(20);
    for (const c of cases) {
      const got = percentiles(make(c.dtype, c.n), c.q);
      expect(got, `${c.dtype} n=${c.n}`).toEqual(c.values);
    }
  });

  it('match a full sort on float32 data with heavy ties, negatives and signed zeros', () => {
    const r = rng(7);
    const a = new Float32Array(30011);
    for (let i = 0; i < a.length; i++) {
      const u = r();
      a[i] = u < 0.3 ? 0 : u < 0.35 ? -0 : u < 0.5 ? Math.round(r() * 10) - 5 : (r() - 0.5) * 1e6;
    }
    const qs = [0, 0.5, 1, 13.7, 29.99, 30, 50, 77.7, 99, 100];
    const got = percentiles(a, qs);
    qs.forEach((q, i) => expect(got[i], `q=${q}`).toBe(sortedRef(a, q)));
    const i32 = Int32Array.from(a, (v) => Math.trunc(v));
    qs.forEach((q) => expect(percentile(i32, q)).toBe(sortedRef(i32, q)));
    expect(percentile([3, 1, 2], 50)).toBe(2);
  });

  it('give NaN when the data hold NaN, and reject bad q or empty data', () => {
    expect(percentile(new Float32Array([1, NaN, 3]), 50)).toBeNaN();
    expect(() => percentile(new Float32Array([1, 2]), 101)).toThrow(/outside \[0, 100\]/);
    expect(() => percentile(new Float32Array(0), 1)).toThrow(/empty/);
  });
});

describe('percentile scaling (MONAI ScaleIntensityRangePercentiles)', () => {
  it('maps the 1st and 99th percentiles to 0 and 1 and clips', () => {
    const a = Float32Array.from(hashed(10007), (v) => (v / 2 ** 32) * 1000 - 300);
    const [lo, hi] = percentiles(a, [1, 99]);
    const { data, low, high } = percentileScale(a);
    expect([low, high]).toEqual([lo, hi]);
    let clippedLow = 0;
    let clippedHigh = 0;
    for (let i = 0; i < a.length; i++) {
      const want = Math.fround(Math.min(1, Math.max(0, (a[i] - lo) / (hi - lo))));
      expect(data[i]).toBe(want);
      if (data[i] === 0) clippedLow++;
      if (data[i] === 1) clippedHigh++;
    }
    expect(clippedLow).toBeGreaterThanOrEqual(100);
    expect(clippedHigh).toBeGreaterThanOrEqual(100);
  });

  it('other percentiles and ranges, without clipping, and in place', () => {
    const a = Float32Array.from({ length: 101 }, (_, i) => i);
    const { data } = percentileScale(a, { lower: 10, upper: 90, bMin: -1, bMax: 1, clip: false });
    expect(data[10]).toBe(-1);
    expect(data[90]).toBe(1);
    expect(data[50]).toBe(0);
    expect(data[0]).toBeCloseTo(-1.25, 6);
    expect(data[100]).toBeCloseTo(1.25, 6);
    const b = a.slice();
    const r = percentileScale(b, {}, b);
    expect(r.data).toBe(b);
    expect(b[0]).toBe(0);
    expect(b[100]).toBe(1);
    expect(b[50]).toBeCloseTo((50 - 1) / 98, 6);
  });

  it('a constant volume is shifted, not scaled (as MONAI); NaN is an error', () => {
    const { data } = percentileScale(new Uint8Array([7, 7, 7]), { clip: false });
    expect(Array.from(data)).toEqual([0, 0, 0]);
    expect(() => percentileScale(new Float32Array([1, NaN]))).toThrow(/contains NaN/);
    expect(() => percentileScale(new Float32Array([1, 2]), { lower: 90, upper: 10 })).toThrow(/exceeds/);
  });
});
