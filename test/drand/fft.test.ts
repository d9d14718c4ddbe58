import { describe, expect, it } from 'vitest';
import { fft, fftInPlace, fftReal, fftshift, ifft, ifftshift, isPow2, magnitude, mixedRadices, realPart, toComplex } from '../../kernels/fft.js';
import { getEngine, poison, randArray, relErr } from '../helpers.js';
import { dftAxis } from './reference.js';

function dft(x: Float64Array, dims: number[], axes: number[], inverse = false): Float64Array {
  let y = x;
  for (const a of axes) y = dftAxis(y, dims, a, inverse);
  return y;
}

/**
 * Poison the buffer the pool will hand out next for `shape` (the pool reuses the most recently released buffer of a
 * size class), so an output element a kernel fails to write reads back as NaN.
 */
function poisonNext(e: Awaited<ReturnType<typeof getEngine>>, shape: number[]): void {
  const t = e.empty(shape);
  poison(t);
  t.dispose();
}

/** numpy fftshift / ifftshift over all axes of a real array with dims `dims` (element size `el`). */
function shiftRef(x: Float64Array, dims: number[], inverse: boolean, el = 1): Float64Array {
  const out = new Float64Array(x.length);
  const [d, h, w] = dims;
  const sh = (n: number) => (inverse ? Math.floor(n / 2) : Math.ceil(n / 2));
  for (let z = 0; z < d; z++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) {
        const src = (((z + sh(d)) % d) * h + ((y + sh(h)) % h)) * w + ((xx + sh(w)) % w);
        const dst = (z * h + y) * w + xx;
        for (let c = 0; c < el; c++) out[dst * el + c] = x[src * el + c];
      }
  return out;
}

describe('3D FFT', () => {
  const shapes: number[][] = [
    [8, 6, 5],
    [16, 9, 12],
    [32, 1, 7],
    [4, 64, 2],
    [3, 35, 100 / 4],
  ];
  for (const dims of shapes) {
    it(`forward and inverse match a float64 DFT on ${dims.join('×')}`, async () => {
      const e = await getEngine();
      const n = dims.reduce((a, b) => a * b, 1);
      const x = randArray(2 * n, 11 + n);
      const t = e.tensor(x, [...dims, 2]);
      const f = fft(t);
      const ref = dft(x, dims, [0, 1, 2]);
      expect(relErr(await f.read(), ref)).toBeLessThan(1e-5);
      // Both strategies whatever the adapter: workgroup-memory passes and global passes.
      // Both strategies whatever the adapter (workgroup-memory and global passes), and Bluestein for every length
      // that is not a power of two even where mixed radix applies.
      for (const o of [{ maxLocal: 2048 }, { maxLocal: 1 }, { bluestein: true }]) {
        const g = fft(t, o);
        expect(relErr(await g.read(), ref), JSON.stringify(o)).toBeLessThan(1e-5);
        g.dispose();
      }
      const b = ifft(f);
      expect(relErr(await b.read(), x)).toBeLessThan(1e-5);
      const bi = ifft(t);
      expect(relErr(await bi.read(), dft(x, dims, [0, 1, 2], true))).toBeLessThan(1e-5);
      for (const u of [t, f, b, bi]) u.dispose();
    });
  }

  it('covers powers of two up to 4096, mixed-radix and prime lengths along one axis, every strategy', async () => {
    const e = await getEngine();
    expect(mixedRadices(96)).toEqual([4, 4, 2, 3]);
    expect(mixedRadices(100)).toEqual([4, 5, 5]);
    expect(mixedRadices(35)).toEqual([5, 7]);
    expect(mixedRadices(127)).toBeNull();
    for (const len of [2, 4, 8, 32, 64, 128, 512, 2048, 4096, 3, 5, 6, 7, 12, 35, 48, 81, 96, 100, 11, 127]) {
      // Long lines: two rows (the O(N²) reference dominates the time); short ones: three.
      const dims = [len >= 1024 ? 2 : 3, len];
      const x = randArray(2 * dims[0] * len, len);
      const ref = dft(x, dims, [1, 0]);
      for (const o of [{ maxLocal: 2048 }, { maxLocal: 16 }, { bluestein: true }]) {
        if (o.bluestein && (isPow2(len) || len > 128)) continue;
        const t = e.tensor(x, [...dims, 2]);
        const f = fftInPlace(e.scope(() => fft(t, { axes: [1], ...o })), { axes: [0], ...o });
        const err = relErr(await f.read(), ref);
        expect(err, `length ${len}, ${JSON.stringify(o)}`).toBeLessThan(len <= 64 ? 1e-5 : 3e-5);
        t.dispose();
        f.dispose();
      }
    }
  });

  it('transforms the middle and first axes of batched volumes with strided lines', async () => {
    const e = await getEngine();
    const dims = [2, 5, 16, 3];
    const n = dims.reduce((a, b) => a * b, 1);
    const x = randArray(2 * n, 5);
    const t = e.tensor(x, [...dims, 2]);
    for (const axes of [[2], [1], [0], [1, 2, 3], [3, 1]]) {
      for (const maxLocal of [2048, 4]) {
        const f = fft(t, { axes, maxLocal });
        expect(relErr(await f.read(), dft(x, dims, axes)), `axes ${axes}`).toBeLessThan(1e-5);
        f.dispose();
      }
    }
    t.dispose();
  });

  it('keeps Parseval and the real-input symmetry, and round-trips a real volume', async () => {
    const e = await getEngine();
    const dims = [9, 10, 11];
    const n = 990;
    const x = randArray(n, 3);
    const t = e.tensor(x, dims);
    const f = fftReal(t);
    expect(f.shape).toEqual([9, 10, 11, 2]);
    const F = await f.read();
    let ex = 0;
    let ef = 0;
    for (let i = 0; i < n; i++) ex += x[i] * x[i];
    for (let i = 0; i < 2 * n; i++) ef += F[i] * F[i];
    expect(Math.abs(ef / n - ex) / ex).toBeLessThan(1e-5);
    // X[-k] = conj(X[k]) for real x.
    let asym = 0;
    for (let z = 0; z < 9; z++)
      for (let y = 0; y < 10; y++)
        for (let w = 0; w < 11; w++) {
          const a = ((z * 10 + y) * 11 + w) * 2;
          const b = ((((9 - z) % 9) * 10 + ((10 - y) % 10)) * 11 + ((11 - w) % 11)) * 2;
          asym = Math.max(asym, Math.abs(F[a] - F[b]), Math.abs(F[a + 1] + F[b + 1]));
        }
    expect(asym).toBeLessThan(1e-4);
    const back = ifft(f);
    poisonNext(e, dims);
    const re = realPart(back);
    poisonNext(e, dims);
    const mag = magnitude(back);
    expect(relErr(await re.read(), x)).toBeLessThan(1e-5);
    expect(relErr(await mag.read(), Array.from(x, Math.abs))).toBeLessThan(1e-5);
    for (const u of [t, f, back, re, mag]) u.dispose();
  });

  it('fftshift and ifftshift follow numpy on odd and even sizes, real and complex', async () => {
    const e = await getEngine();
    for (const dims of [
      [5, 4, 7],
      [6, 3, 8],
      [1, 1, 9],
    ]) {
      const n = dims.reduce((a, b) => a * b, 1);
      const x = randArray(n, n);
      const t = e.tensor(x, dims);
      for (const inverse of [false, true]) {
        poisonNext(e, dims);
        const s = inverse ? ifftshift(t) : fftshift(t);
        expect(Array.from(await s.read())).toEqual(Array.from(shiftRef(x, dims, inverse), Math.fround));
        // ifftshift undoes fftshift.
        const back = inverse ? fftshift(s) : ifftshift(s);
        expect(Array.from(await back.read())).toEqual(Array.from(x, Math.fround));
        s.dispose();
        back.dispose();
      }
      const xc = randArray(2 * n, n + 1);
      const c = e.tensor(xc, [...dims, 2]);
      poisonNext(e, [...dims, 2]);
      const sc = fftshift(c, { complex: true });
      expect(Array.from(await sc.read())).toEqual(Array.from(shiftRef(xc, dims, false, 2), Math.fround));
      t.dispose();
      c.dispose();
      sc.dispose();
    }
    // numpy: fftshift([0 1 2 3 4]) = [3 4 0 1 2]; ifftshift = [2 3 4 0 1].
    const v = e.tensor([0, 1, 2, 3, 4], [5]);
    expect(Array.from(await fftshift(v).read())).toEqual([3, 4, 0, 1, 2]);
    expect(Array.from(await ifftshift(v).read())).toEqual([2, 3, 4, 0, 1]);
  });

  it('makes a real volume complex (poisoned output) and rejects bad input clearly', async () => {
    const e = await getEngine();
    const x = randArray(7 * 6, 9);
    const t = e.tensor(x, [7, 6]);
    poisonNext(e, [7, 6, 2]);
    const c = toComplex(t);
    const cv = await c.read();
    expect(Array.from(cv.filter((_, i) => i % 2 === 0))).toEqual(Array.from(x, Math.fround));
    expect(cv.filter((_, i) => i % 2 === 1).every((v) => v === 0)).toBe(true);
    const f = fft(c, { axes: [0, 1] });
    expect(relErr(await f.read(), dft(Float64Array.from(cv), [7, 6], [0, 1]))).toBeLessThan(1e-5);
    expect(() => fft(t)).toThrow(/complex f32 tensor of shape \[\.\.\., 2\], got \[7, 6\]/);
    expect(() => fft(c, { axes: [2] })).toThrow(/axis 2 out of range/);
    for (const u of [t, c, f]) u.dispose();
  });
});
