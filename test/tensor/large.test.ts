// Tensors larger than maxStorageBufferBindingSize. Most checks use a second engine whose binding limit is capped
// at 1 MiB, so ~1–3 MiB tensors exercise the chunked paths cheaply; one test uses a real >128 MiB tensor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary, cast, compare, scaleShift, unary, where } from '../../kernels/elementwise.js';
import { concat, slice, transpose } from '../../kernels/copy.js';
import { randomBitsCpu, randomWordCpu, unitCpu, uniformCpu } from '../../kernels/random.js';
import { reduce } from '../../kernels/reduce.js';
import type { Engine } from '../../src/engine.js';
import * as math from '../../src/tensor/math.js';
import { createEngine } from '../../src/node.js';
import { roundF16 } from '../../src/tensor/f16.js';
import { getEngine, poison, randArray, relErr } from '../helpers.js';

const LIMIT = 1 << 20;
let small: Engine;

beforeAll(async () => {
  small = await createEngine({ limits: { maxStorageBufferBindingSize: LIMIT } });
});
afterAll(() => small?.destroy());

/** Indices where a and b differ (at most 5), so that big arrays compare quickly with a readable failure. */
function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const bad: number[] = [];
  if (a.length !== b.length) return [-1];
  for (let i = 0; i < a.length && bad.length < 5; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) bad.push(i);
  return bad;
}

function sum64(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s;
}

describe('chunking past a 1 MiB binding limit', () => {
  it('the capped engine reports the cap and whole-tensor bindings refuse', () => {
    expect(small.rt.maxBinding).toBe(LIMIT);
    const t = small.zeros([300_000]);
    expect(t.fitsBinding).toBe(false);
    expect(() => t.binding()).toThrow(/needs a 1200000-byte binding; this adapter allows 1048576/);
  });

  it('elementwise: same-shape, scalar and small broadcast operands, mixed element sizes', async () => {
    const n = 700_001; // 2.8 MB of f32: three chunks, odd length
    const av = randArray(n, 1, -2, 2);
    const bv = randArray(n, 2, 0.5, 2);
    const a = small.tensor(av, [n]);
    const b = small.tensor(bv, [n]);
    const out = small.empty([n]);
    poison(out);
    const before = small.rt.stats.dispatches;
    binary('div', a, b, out);
    expect(small.rt.stats.dispatches - before).toBe(3);
    expect(relErr(await out.read(), Float64Array.from(av, (v, i) => Math.fround(v) / Math.fround(bv[i])))).toBeLessThan(1e-6);
    // Scalar operand and f32 → u8 output (chunk offsets must align for both element sizes).
    const gt = compare('gt', a, small.tensor([0.25], []));
    expect(mismatches(await gt.read(), Array.from(av, (v) => (Math.fround(v) > 0.25 ? 1 : 0)))).toEqual([]);
    const picked = where(gt, a, small.tensor([-7], [1]));
    expect(relErr(await picked.read(), Float64Array.from(av, (v) => (Math.fround(v) > 0.25 ? Math.fround(v) : -7)))).toBe(0);
    // A [700, 1000] + [1000] broadcast: the small operand is bound whole, the rest in chunks.
    const m = small.tensor(av.subarray(0, 700_000), [700, 1000]);
    const row = small.tensor(bv.subarray(0, 1000), [1000]);
    const sumRow = await binary('add', m, row).read();
    let err = 0;
    for (let i = 0; i < 700_000; i += 997) err = Math.max(err, Math.abs(sumRow[i] - (Math.fround(av[i]) + Math.fround(bv[i % 1000]))));
    expect(err).toBeLessThan(1e-6);
    // f16 packed words across chunks (vec4 path: n multiple of 4).
    if (small.gpu.hasF16) {
      const h = cast(small.tensor(av.subarray(0, 600_000), [600_000]), 'f16');
      const hv = await scaleShift(h, 2, 1).read();
      let e2 = 0;
      for (let i = 0; i < 600_000; i += 101) e2 = Math.max(e2, Math.abs(hv[i] - roundF16(2 * roundF16(av[i]) + 1)));
      expect(e2).toBeLessThan(1e-9);
      const ex = await unary('abs', h).read();
      expect(ex[599_999]).toBe(Math.abs(roundF16(av[599_999])));
    }
  });

  it('elementwise: a broadcast operand larger than the limit is a clear error', () => {
    const big = small.zeros([2, 300_000]);
    const bc = small.zeros([1, 300_000]);
    expect(() => binary('add', big, bc)).toThrow(/add: operand 2 \[1, 300000\] f32 \(1\.1 MiB\) is broadcast and larger than this adapter's storage binding limit/);
  });

  it('fill and random: chunked output equals the unchunked stream', async () => {
    const n = 500_003;
    const f = await small.full([n], 2.5).read();
    expect(f[0] === 2.5 && f[n - 1] === 2.5 && f[262_144] === 2.5).toBe(true);
    const u = await math.uniform(small, [n], 0, 1, 77, 5).read();
    expect(mismatches(u, Float32Array.from(uniformCpu(n, 77, 0, 1, 5)))).toEqual([]);
    const bits = await math.randomBits(small, [n], 3).read();
    expect(mismatches(bits, randomBitsCpu(n, 3))).toEqual([]);
    const big = await getEngine();
    const g1 = await math.normal(small, [n], 0, 1, 9).read();
    const g2 = await math.normal(big, [n], 0, 1, 9).read();
    expect(relErr(g1, g2)).toBe(0);
  });

  it('reductions: global, over leading and trailing axes, with partial passes bound in pieces', async () => {
    const n = 720_000;
    const v = randArray(n, 5, -1, 2);
    const f = Float64Array.from(v, Math.fround);
    const t = small.tensor(v, [n]);
    const s = await reduce('sum', t).item();
    expect(Math.abs(s - sum64(f)) / Math.abs(sum64(f))).toBeLessThan(1e-6);
    const mx = await reduce('argmax', t).item();
    let best = 0;
    for (let i = 1; i < n; i++) if (f[i] > f[best]) best = i;
    expect(mx).toBe(best);
    const mean = sum64(f) / n;
    let q = 0;
    for (const x of f) q += (x - mean) ** 2;
    expect(Math.abs((await reduce('variance', t).item()) - q / n) / (q / n)).toBeLessThan(1e-5);
    // Trailing axis: [3, 240000] → 3 sums (rows straddle binding chunks).
    const rows = await reduce('sum', t.reshape([3, 240_000]), { axes: [1] }).read();
    const refRows = [0, 1, 2].map((r) => sum64(f.subarray(r * 240_000, (r + 1) * 240_000)));
    expect(relErr(rows, refRows)).toBeLessThan(1e-6);
    // Leading axis: [240000, 3] → 3 strided sums (the serial layout, chunked).
    const cols = await reduce('mean', t.reshape([240_000, 3]), { axes: [0] }).read();
    const refCols = [0, 1, 2].map((c) => {
      let acc = 0;
      for (let i = c; i < n; i += 3) acc += f[i];
      return acc / 240_000;
    });
    expect(relErr(cols, refCols)).toBeLessThan(1e-6);
    // Many outputs (partial buffer and final output both larger than one binding).
    const many = await reduce('max', t.reshape([360_000, 2]), { axes: [1] }).read();
    let worst = 0;
    for (let i = 0; i < 360_000; i += 7) worst = Math.max(worst, Math.abs(many[i] - Math.max(f[2 * i], f[2 * i + 1])));
    expect(worst).toBe(0);
  });

  it('copies: slices and concatenations split; a transpose that cannot is a clear error', async () => {
    const n = 700_000;
    const v = randArray(n, 8);
    const t = small.tensor(v, [n]);
    const sl = await slice(t, 0, 5, 699_990, 3).read();
    expect(sl.length).toBe(233_329);
    for (const i of [0, 1, 100_000, 233_328]) expect(sl[i]).toBe(Math.fround(v[5 + 3 * i]));
    const rows = slice(t.reshape([700, 1000]), 1, 10, 900, 1);
    const rv = await rows.read();
    expect(rv[0]).toBe(Math.fround(v[10]));
    expect(rv[890 * 699 + 889]).toBe(Math.fround(v[699 * 1000 + 899]));
    const cat = await concat([t.reshape([700, 1000]), small.tensor(v.subarray(0, 350_000), [350, 1000])], 0).read();
    expect(cat.length).toBe(1_050_000);
    expect(cat[699_999]).toBe(Math.fround(v[699_999]));
    expect(cat[700_000 + 12_345]).toBe(Math.fround(v[12_345]));
    expect(() => transpose(t.reshape([700, 1000]), [1, 0])).toThrow(/transpose: source tensor \[700, 1000\] f32 \(2\.7 MiB\) exceeds/);
  });
});

describe('a real tensor over the 128 MiB binding limit', () => {
  it('elementwise ops and global reductions on 128 MiB + 16 KiB of f32', async () => {
    const e = await getEngine();
    // Just over the binding limit: 128 MiB + 16 KiB on lavapipe (adapters with larger limits get larger tensors).
    const n = Math.max(2 ** 25, Math.floor(e.rt.maxBinding / 4 / 4096) * 4096) + 4096;
    expect(n * 4).toBeGreaterThan(e.rt.maxBinding);
    const seed = 1234;
    const x = math.uniform(e, [n], 0, 1, seed); // chunked random
    expect(x.fitsBinding).toBe(false);
    const r = math.scaleShift(x, -1, 1); // chunked unary: 1 − x, exact for 24-bit uniforms
    const z = math.add(x, r); // chunked binary: exactly 1 everywhere
    // Every partial sum of ones is an integer times 2^12 below 2^36: the f32 total is exact, so a lost or doubled
    // chunk shows up as an exact mismatch.
    const total = await reduce('sum', z).item();
    expect(total).toBe(n);
    const m = await reduce('mean', x).item();
    expect(Math.abs(m - 0.5)).toBeLessThan(6 * Math.sqrt(1 / 12 / n));
    // Samples on both sides of every chunk boundary and at the tail, against the CPU Philox stream.
    const align = Math.max(e.rt.storageAlign, 4);
    const per = Math.floor(e.rt.maxBinding / (4 * align)) * align; // elements per chunk (kernels/elementwise.ts)
    const at = async (t: typeof x, i: number) => new Float32Array((await e.rt.read(t.buffer, i * 4, 4)).buffer)[0];
    for (const i of [0, 1, 12_345, per - 1, per, per + 1, n - 4097, n - 2, n - 1]) {
      const u = unitCpu(randomWordCpu(seed, i));
      expect(await at(x, i), `x[${i}]`).toBe(u);
      expect(await at(r, i), `r[${i}]`).toBe(1 - u);
      expect(await at(z, i), `z[${i}]`).toBe(1);
    }
    // A whole-tensor download crosses the 64 MiB staging chunks of Runtime.read.
    const all = await x.read();
    expect(all.length).toBe(n);
    for (const i of [0, 2 ** 24 - 1, 2 ** 24, 2 ** 24 + 7, n - 1]) expect(all[i], `read x[${i}]`).toBe(unitCpu(randomWordCpu(seed, i)));
    [x, r, z].forEach((t) => t.dispose());
  });
});
