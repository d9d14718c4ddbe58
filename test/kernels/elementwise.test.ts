import { describe, expect, it } from 'vitest';
import {
  binary, BINARY_OPS, cast, clamp, compare, COMPARE_OPS, scaleShift, unary, UNARY_OPS, where,
  type BinaryOp, type CompareOp, type UnaryOp,
} from '../../kernels/elementwise.js';
import type { Engine } from '../../src/engine.js';
import type { DType } from '../../src/tensor/dtype.js';
import { roundF16 } from '../../src/tensor/f16.js';
import { broadcastShapes, sizeOf, stridesOf } from '../../src/tensor/shape.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { getEngine, poison, randArray, relErr, rng } from '../helpers.js';

type Shape = number[];

/** Index of output element `i` in an operand of shape `s` broadcast to `out`. */
function bIndex(i: number, out: Shape, s: Shape): number {
  const os = stridesOf(out);
  const ss = stridesOf(s);
  const off = out.length - s.length;
  let idx = 0;
  for (let d = 0; d < out.length; d++) {
    const c = Math.floor(i / os[d]) % out[d];
    if (d >= off && s[d - off] !== 1) idx += c * ss[d - off];
  }
  return idx;
}

function refBroadcast(shapes: Shape[], data: ArrayLike<number>[], f: (...v: number[]) => number): { shape: Shape; out: Float64Array } {
  const shape = shapes.reduce((a, b) => broadcastShapes(a, b));
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(...shapes.map((s, k) => data[k][bIndex(i, shape, s)]));
  return { shape, out };
}

/** Values representable in `dtype` (f16 rounded, integers in a small range so products do not overflow). */
function values(n: number, seed: number, dtype: DType, lo = -4, hi = 4): number[] {
  const r = randArray(n, seed, lo, hi);
  switch (dtype) {
    case 'f32':
      return Array.from(r, Math.fround);
    case 'f16':
      return Array.from(r, roundF16);
    case 'i32':
      return Array.from(r, (v) => Math.trunc(v * 50));
    case 'u32':
      return Array.from(r, (v) => Math.trunc(Math.abs(v) * 50));
    case 'u8':
      return Array.from(r, (v) => Math.trunc(Math.abs(v) * 60) % 256);
  }
}

function outFor(e: Engine, shape: Shape, dtype: DType): Tensor {
  const t = e.empty(shape, dtype);
  poison(t);
  return t;
}

function wrap(v: number, dtype: DType): number {
  if (dtype === 'i32') return v | 0;
  if (dtype === 'u32') return v >>> 0;
  if (dtype === 'f16') return roundF16(v);
  if (dtype === 'f32') return Math.fround(v);
  return v;
}

function binRef(op: BinaryOp, dtype: DType): (a: number, b: number) => number {
  const int = dtype === 'i32' || dtype === 'u32';
  switch (op) {
    case 'add':
      return (a, b) => a + b;
    case 'sub':
      return (a, b) => a - b;
    case 'mul':
      return (a, b) => (int ? Math.imul(a, b) : a * b);
    case 'div':
      return (a, b) => (int ? Math.trunc(a / b) : a / b);
    case 'pow':
      return (a, b) => a ** b;
    case 'maximum':
      return Math.max;
    case 'minimum':
      return Math.min;
  }
}

const SHAPE_CASES: [Shape, Shape][] = [
  [[5, 7, 3], [5, 7, 3]], // same shape, length not a multiple of 4
  [[4, 9], [4, 9]], // same shape, vec4 path
  [[3, 1, 5], [4, 1]], // rank mismatch, size-1 dims in both operands
  [[], [6, 5]], // scalar broadcast
  [[2, 3, 1, 5], [1]], // one-element operand of rank 1
  [[2, 3, 2, 3, 2, 3], [1, 3, 1, 3, 1, 3]], // rank 6, alternating broadcast dims
  [[7, 1, 1], [1, 3, 5]],
  [[3, 8], [8]], // vector path with a broadcast row (stride-1 vector loads)
  [[6, 1], [6, 4]], // vector path with a broadcast column (splat)
];

function close(dtype: DType, got: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  if (dtype === 'f32') expect(relErr(got, ref), what).toBeLessThan(1e-6);
  else if (dtype === 'f16') expect(relErr(got, ref), what).toBeLessThan(2e-3);
  else expect(Array.from(got), what).toEqual(Array.from(ref));
}

describe('elementwise binary', () => {
  // Op and layout are independent specialisations of one template, so the matrix is: every op × dtype on one
  // layout, plus every layout × dtype for add and for the ops with helper functions (pipelines are costly to build
  // on a CPU driver, so the full product would dominate the suite's time).
  it('every op, dtype and broadcast shape matches a float64 reference', async () => {
    const e = await getEngine();
    const dtypes: DType[] = e.gpu.hasF16 ? ['f32', 'f16', 'i32', 'u32'] : ['f32', 'i32', 'u32'];
    let seed = 1;
    for (const op of BINARY_OPS) {
      for (const dtype of dtypes) {
        if (op === 'pow' && (dtype === 'i32' || dtype === 'u32')) continue;
        const allLayouts = op === 'add' || (op === 'maximum' && dtype === 'f32') || (op === 'pow' && dtype === 'f16') || (op === 'div' && dtype === 'i32');
        for (const [sa, sb] of allLayouts ? SHAPE_CASES : SHAPE_CASES.slice(0, 1)) {
          let av = values(sizeOf(sa), seed++, dtype);
          let bv = values(sizeOf(sb), seed++, dtype);
          if (op === 'div') bv = bv.map((v) => (v === 0 ? 3 : v));
          // pow on positive bases here; negative bases are covered below.
          if (op === 'pow') av = av.map((v) => Math.abs(v) + 0.25).map((v) => wrap(v, dtype));
          const f = binRef(op, dtype);
          const { shape, out: ref } = refBroadcast([sa, sb], [av, bv], (a, b) => wrap(f(a, b), dtype));
          const a = e.tensor(av, sa, dtype);
          const b = e.tensor(bv, sb, dtype);
          const out = outFor(e, shape, dtype);
          expect(binary(op, a, b, out)).toBe(out);
          close(dtype, await out.read(), ref, `${op} ${dtype} [${sa}]∘[${sb}]`);
          [a, b, out].forEach((t) => t.dispose());
        }
      }
    }
  });

  it('pow follows NumPy for negative bases, zero and NaN', async () => {
    const e = await getEngine();
    const a = e.tensor([-2, -2, -2, 0, 0, 0, 2, -8], [8]);
    const b = e.tensor([2, 3, 0.5, 2, 0, -1, -1, 1 / 3], [8]);
    const got = Array.from(await binary('pow', a, b).read());
    expect(got.slice(0, 2)).toEqual([4, -8]);
    expect(got[2]).toBeNaN();
    expect(got.slice(3, 7)).toEqual([0, 1, Infinity, 0.5]);
    expect(got[7]).toBeNaN();
    const m = await binary('maximum', e.tensor([NaN, 1, 2, -1], [4]), e.tensor([0, NaN, 1, -2], [4])).read();
    expect(Number.isNaN(m[0]) && Number.isNaN(m[1])).toBe(true);
    expect([m[2], m[3]]).toEqual([2, -1]);
  });

  it('comparisons give u8 0/1 for every dtype, with broadcasting', async () => {
    const e = await getEngine();
    const dtypes: DType[] = e.gpu.hasF16 ? ['f32', 'f16', 'i32', 'u32', 'u8'] : ['f32', 'i32', 'u32', 'u8'];
    const f: Record<CompareOp, (a: number, b: number) => boolean> = {
      gt: (a, b) => a > b, ge: (a, b) => a >= b, lt: (a, b) => a < b, le: (a, b) => a <= b, eq: (a, b) => a === b, ne: (a, b) => a !== b,
    };
    let seed = 100;
    for (const op of COMPARE_OPS) {
      for (const dtype of dtypes) {
        const layouts: [Shape, Shape][] = [[[4, 8], [4, 8]]];
        if (op === 'gt' || op === 'eq') layouts.push([[3, 5, 7], [3, 5, 7]], [[3, 1, 7], [5, 1]], [[2, 4, 8], [4, 1]], [[5, 12], [12]]);
        for (const [sa, sb] of layouts) {
          // Coarse values so that equality actually happens.
          const av = values(sizeOf(sa), seed++, dtype).map((v) => Math.round(v / 2));
          const bv = values(sizeOf(sb), seed++, dtype).map((v) => Math.round(v / 2));
          const { shape, out: ref } = refBroadcast([sa, sb], [av, bv], (a, b) => (f[op](a, b) ? 1 : 0));
          const a = e.tensor(av, sa, dtype);
          const b = e.tensor(bv, sb, dtype);
          const out = outFor(e, shape, 'u8');
          compare(op, a, b, out);
          expect(Array.from(await out.read()), `${op} ${dtype}`).toEqual(Array.from(ref));
          [a, b, out].forEach((t) => t.dispose());
        }
      }
    }
  });
});

describe('elementwise unary', () => {
  it('every op and dtype matches a float64 reference', async () => {
    const e = await getEngine();
    const dtypes: DType[] = e.gpu.hasF16 ? ['f32', 'f16', 'i32', 'u32'] : ['f32', 'i32', 'u32'];
    const ref: Record<UnaryOp, (a: number, d: DType) => number> = {
      neg: (a) => -a,
      abs: Math.abs,
      exp: Math.exp,
      log: Math.log,
      sqrt: Math.sqrt,
      rsqrt: (a) => 1 / Math.sqrt(a),
      square: (a) => a * a,
      sign: Math.sign,
    };
    let seed = 200;
    for (const op of UNARY_OPS) {
      for (const dtype of dtypes) {
        const isF = dtype === 'f32' || dtype === 'f16';
        if (!isF && ['exp', 'log', 'sqrt', 'rsqrt'].includes(op)) continue;
        if (dtype === 'u32' && op === 'neg') continue;
        const sizes = op === 'neg' || op === 'exp' || op === 'abs' ? [1, 4, 37, 1000, 1003] : [1003];
        for (const n of sizes) {
          const positive = ['log', 'sqrt', 'rsqrt'].includes(op);
          const av = values(n, seed++, dtype, positive ? 0.01 : -4, 4);
          const a = e.tensor(av, [n], dtype);
          const out = outFor(e, [n], dtype);
          unary(op, a, out);
          const r = av.map((v) => wrap(ref[op](v, dtype), dtype));
          close(dtype, await out.read(), r, `${op} ${dtype} n=${n}`);
          a.dispose();
          out.dispose();
        }
      }
    }
  });

  it('clamp and scaleShift', async () => {
    const e = await getEngine();
    const dtypes: DType[] = e.gpu.hasF16 ? ['f32', 'f16', 'i32', 'u32'] : ['f32', 'i32', 'u32'];
    for (const dtype of dtypes) {
      const av = values(333, 7, dtype);
      const a = e.tensor(av, [3, 111], dtype);
      const bounds: [number | undefined, number | undefined][] = [[-1.5, 2.25], [30, 60]];
      if (dtype === 'f32' || dtype === 'i32') bounds.push([undefined, 0.5], [1, undefined], [-Infinity, Infinity]);
      for (const [lo, hi] of bounds) {
        const out = outFor(e, [3, 111], dtype);
        clamp(a, lo, hi, out);
        const int = dtype === 'i32' || dtype === 'u32';
        const l = lo === undefined ? -Infinity : int ? Math.ceil(lo) : lo;
        const h = hi === undefined ? Infinity : int ? Math.floor(hi) : hi;
        const r = av.map((v) => wrap(Math.min(Math.max(v, l), h), dtype));
        close(dtype, await out.read(), r, `clamp ${dtype} ${lo} ${hi}`);
        out.dispose();
      }
      if (dtype === 'f32' || dtype === 'f16') {
        const out = outFor(e, [3, 111], dtype);
        scaleShift(a, -2.5, 0.75, out);
        close(dtype, await out.read(), av.map((v) => wrap(v * -2.5 + 0.75, dtype)), `scaleShift ${dtype}`);
        out.dispose();
      }
      a.dispose();
    }
    expect(() => clamp(e.zeros([2]), 3, 1)).toThrow(/lower bound 3 exceeds upper bound 1/);
  });
});

describe('where and cast', () => {
  it('where broadcasts condition and both branches', async () => {
    const e = await getEngine();
    const r = rng(5);
    for (const [sc, sa, sb] of [[[4, 5], [4, 5], [4, 5]], [[3, 1, 5], [1, 4, 1], [5]], [[7], [], [2, 7]]] as Shape[][]) {
      const cv = Array.from({ length: sizeOf(sc) }, () => (r() < 0.5 ? 0 : 1 + Math.floor(r() * 200)));
      const av = values(sizeOf(sa), 11, 'f32');
      const bv = values(sizeOf(sb), 12, 'f32');
      const { shape, out: ref } = refBroadcast([sc, sa, sb], [cv, av, bv], (c, a, b) => (c ? a : b));
      const out = outFor(e, shape, 'f32');
      where(e.tensor(cv, sc, 'u8'), e.tensor(av, sa), e.tensor(bv, sb), out);
      expect(Array.from(await out.read())).toEqual(Array.from(ref, Math.fround));
    }
    // Integer branches too.
    const got = await where(e.tensor([1, 0, 1], [3], 'u8'), e.tensor([5, 6, 7], [3], 'i32'), e.tensor([-1], [1], 'i32')).read();
    expect(Array.from(got)).toEqual([5, -1, 7]);
  });

  it('casts between every pair of dtypes', async () => {
    const e = await getEngine();
    const dtypes: DType[] = e.gpu.hasF16 ? ['f32', 'f16', 'i32', 'u32', 'u8'] : ['f32', 'i32', 'u32', 'u8'];
    const src: Record<DType, number[]> = {
      f32: [0, -0.5, 0.5, 1.75, -1.75, 254.9, 255.5, -300.25, 3e9, -3e9, 1e20, 70000, NaN, 12.5, -7.99, 100],
      f16: [0, -0.5, 0.5, 1.75, -1.75, 254.875, 255.5, -300.25, 65504, -65504, 1000, 2047, 12.5, -7.99, 100, 3],
      i32: [0, -1, 1, 255, 256, -256, 70000, -70000, 2147483647, -2147483648, 12, 13, 300, -3, 100, 65519],
      u32: [0, 1, 255, 256, 70000, 4294967295, 2147483648, 12, 13, 300, 3, 100, 65536, 7, 8, 9],
      u8: [0, 1, 2, 127, 128, 254, 255, 12, 13, 30, 3, 100, 200, 7, 8, 9],
    };
    const conv = (v: number, from: DType, to: DType): number => {
      if (from === 'f16') v = roundF16(v);
      if (from === 'f32') v = Math.fround(v);
      const isF = from === 'f32' || from === 'f16';
      switch (to) {
        case 'f32':
          return Math.fround(v);
        case 'f16':
          return roundF16(v);
        case 'i32':
          return isF ? (Number.isNaN(v) ? 0 : Math.max(-2147483648, Math.min(2147483520, Math.trunc(v))) | 0) : v | 0;
        case 'u32':
          return isF ? (Number.isNaN(v) ? 0 : Math.max(0, Math.min(4294967040, Math.trunc(v))) >>> 0) : v >>> 0;
        case 'u8':
          return Number.isNaN(v) ? 0 : Math.max(0, Math.min(255, Math.trunc(v))) | 0;
      }
    };
    for (const from of dtypes) {
      for (const to of dtypes) {
        // Odd length for every pair (scalar path), the vector path for a few.
        const vecToo = (from === 'f32' && to !== 'u32') || (to === 'f32' && from !== 'u32');
        for (const n of vecToo ? [16, 13] : [13]) {
          const v = src[from].slice(0, n);
          const a = e.tensor(v, [n], from);
          const out = outFor(e, [n], to);
          cast(a, to, out);
          const want = v.map((x) => conv(x, from, to));
          expect(Array.from(await out.read()), `${from} → ${to} n=${n}`).toEqual(want);
        }
      }
    }
  });
});

describe('elementwise edge cases and errors', () => {
  it('zero-size tensors, negative values of packed types, 1-element outputs', async () => {
    const e = await getEngine();
    const z = binary('add', e.zeros([3, 0, 2]), e.zeros([1, 2]));
    expect(z.shape).toEqual([3, 0, 2]);
    expect((await z.read()).length).toBe(0);
    const s = binary('mul', e.tensor([3], []), e.tensor([-2], [1, 1]));
    expect(s.shape).toEqual([1, 1]);
    expect(await s.item()).toBe(-6);
  });

  it('rejects bad inputs with messages naming shapes and dtypes', async () => {
    const e = await getEngine();
    expect(() => binary('add', e.zeros([2, 3]), e.zeros([4, 3]))).toThrow(/add: shapes \[2, 3\] and \[4, 3\] cannot be broadcast/);
    expect(() => binary('mul', e.zeros([2]), e.zeros([2], 'i32'))).toThrow(/mul: dtypes f32 and i32 differ/);
    expect(() => unary('exp', e.zeros([2], 'i32'))).toThrow(/exp: dtype i32 .* not supported/);
    expect(() => binary('add', e.zeros([2], 'u8'), e.zeros([2], 'u8'))).toThrow(/add: dtype u8/);
    expect(() => where(e.zeros([2]), e.zeros([2]), e.zeros([2]))).toThrow(/where: the condition must be u8, got f32/);
    expect(() => where(e.zeros([2], 'u8'), e.zeros([2]), e.zeros([3]))).toThrow(/where: shapes/);
    const a = e.zeros([4]);
    expect(() => binary('add', a, a, a)).toThrow(/must not share storage/);
    expect(() => binary('add', a, a, e.zeros([5]))).toThrow(/output tensor \[5\] f32 does not match the result \[4\] f32/);
  });
});

describe('math API (src/tensor/math.ts)', () => {
  it('numbers as operands: uniform fast paths for floats, scalar tensors otherwise', async () => {
    const { math } = await import('../../src/index.js');
    const e = await getEngine();
    const av = values(37, 77, 'f32');
    const a = e.tensor(av, [37]);
    const before = e.rt.stats.uploads;
    const got = await Promise.all([math.add(a, 3), math.sub(a, 0.5), math.mul(a, -2), math.maximum(a, 0), math.minimum(a, 1)].map((t) => t.read()));
    expect(e.rt.stats.uploads - before).toBe(0); // no scalar uploads for float tensors
    const refs = [(v: number) => v + 3, (v: number) => v - 0.5, (v: number) => v * -2, (v: number) => Math.max(v, 0), (v: number) => Math.min(v, 1)];
    refs.forEach((f, k) => expect(relErr(got[k], av.map((v) => Math.fround(f(v))))).toBeLessThan(1e-7));
    expect(Array.from(await math.div(a, 4).read())).toEqual(av.map((v) => Math.fround(v / 4)));
    const nanMax = await math.maximum(e.tensor([NaN, -1, 2], [3]), 0).read();
    expect(Number.isNaN(nanMax[0]) && nanMax[1] === 0 && nanMax[2] === 2).toBe(true);
    const iv = values(37, 78, 'i32');
    const ia = e.tensor(iv, [37], 'i32');
    expect(Array.from(await math.add(ia, 5).read())).toEqual(iv.map((v) => v + 5));
    expect(Array.from(await math.gt(ia, 0).read())).toEqual(iv.map((v) => (v > 0 ? 1 : 0)));
    expect(Array.from(await math.where(math.lt(a, 0), 0, a).read())).toEqual(av.map((v) => (v < 0 ? 0 : v)));
    const c = math.clone(a);
    expect(c.buffer).not.toBe(a.buffer);
    expect(Array.from(await c.read())).toEqual(av);
  });
});
