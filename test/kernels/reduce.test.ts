import { describe, expect, it } from 'vitest';
import { reduce, type ReduceOp } from '../../kernels/reduce.js';
import type { Engine } from '../../src/engine.js';
import type { DType } from '../../src/tensor/dtype.js';
import { roundF16 } from '../../src/tensor/f16.js';
import { sizeOf, stridesOf } from '../../src/tensor/shape.js';
import { getEngine, poison, randArray, relErr } from '../helpers.js';

/** float64 reference: reduce `data` of `shape` over `axes` (all when undefined). */
function refReduce(op: ReduceOp, data: ArrayLike<number>, shape: number[], axes?: number[], unbiased = false): Float64Array {
  const ax = new Set((axes ?? shape.map((_, i) => i)).map((a) => (a < 0 ? a + shape.length : a)));
  const outShape = shape.map((d, i) => (ax.has(i) ? 1 : d));
  const os = stridesOf(outShape);
  const n = sizeOf(outShape);
  const groups: number[][] = Array.from({ length: n }, () => []);
  const rpos: number[][] = Array.from({ length: n }, () => []);
  const rank = shape.length;
  for (let e = 0; e < data.length; e++) {
    let rem = e;
    let o = 0;
    let r = 0;
    let rs = 1;
    for (let i = rank - 1; i >= 0; i--) {
      const c = rem % shape[i];
      rem = (rem - c) / shape[i];
      if (ax.has(i)) {
        r += c * rs;
        rs *= shape[i];
      } else o += c * os[i];
    }
    groups[o].push(data[e]);
    rpos[o].push(r);
  }
  return Float64Array.from(groups, (g, o) => {
    const sum = g.reduce((a, b) => a + b, 0);
    const mean = sum / g.length;
    switch (op) {
      case 'sum':
        return sum;
      case 'mean':
        return mean;
      case 'max':
        return g.reduce((a, b) => Math.max(a, b), -Infinity);
      case 'min':
        return g.reduce((a, b) => Math.min(a, b), Infinity);
      case 'variance':
        return g.reduce((a, b) => a + (b - mean) ** 2, 0) / (g.length - (unbiased ? 1 : 0));
      case 'argmax':
      case 'argmin': {
        let best = 0;
        for (let j = 1; j < g.length; j++) if (op === 'argmax' ? g[j] > g[best] : g[j] < g[best]) best = j;
        return rpos[o][best];
      }
    }
  });
}

async function check(e: Engine, op: ReduceOp, shape: number[], axes: number[] | undefined, dtype: DType, opts: { keepDims?: boolean; unbiased?: boolean; noSubgroups?: boolean } = {}) {
  const n = sizeOf(shape);
  let data = Array.from(randArray(n, n * 7 + shape.length, -2, 3));
  if (dtype === 'f16') data = data.map(roundF16);
  if (dtype === 'u8') data = data.map((v) => Math.floor((v + 2) * 50));
  const t = e.tensor(data, shape, dtype);
  // Leave a poisoned buffer of the output's size on top of the pool: an unwritten output element reads NaN.
  const outN = refReduce('sum', new Float64Array(n), shape, axes).length;
  const p = e.empty([Math.max(outN, 1)], op.startsWith('arg') ? 'i32' : 'f32');
  poison(p);
  p.dispose();
  const out = reduce(op, t, { axes, ...opts });
  const ref = refReduce(op, dtype === 'f32' ? data.map(Math.fround) : data, shape, axes, opts.unbiased);
  const what = `${op} ${dtype} [${shape}] axes ${JSON.stringify(axes)} ${JSON.stringify(opts)}`;
  const got = await out.read();
  if (op === 'argmax' || op === 'argmin') expect(Array.from(got), what).toEqual(Array.from(ref));
  else expect(relErr(got, ref), what).toBeLessThan(dtype === 'f16' ? 1e-3 : 1e-5);
  t.dispose();
  out.dispose();
  return out.shape;
}

describe('reductions', () => {
  it('every op over contiguous, strided and non-adjacent axes', async () => {
    const e = await getEngine();
    const cases: [number[], number[] | undefined][] = [
      [[5, 7, 9], undefined],
      [[5, 7, 9], [2]],
      [[5, 7, 9], [1]],
      [[5, 7, 9], [0]],
      [[5, 7, 9], [0, 2]], // non-adjacent: transposed first
      [[3, 1, 4, 5, 2], [-1, 1, 2]], // negative axis, size-1 axis inside the block
      [[2, 3, 4, 5], [1, 3]],
      [[1000, 3], [0]], // long strided reduction (two passes of the serial layout)
      [[6, 333], [1]],
    ];
    for (const op of ['sum', 'mean', 'max', 'min', 'variance'] as ReduceOp[]) {
      for (const [shape, axes] of cases) await check(e, op, shape, axes, 'f32');
    }
    for (const [shape, axes] of [[[5, 7, 9], [1]], [[9, 11], undefined], [[4, 5, 6], [0]]] as [number[], number[] | undefined][]) {
      await check(e, 'argmax', shape, axes?.length === 1 ? axes : undefined, 'f32');
      await check(e, 'argmin', shape, axes?.length === 1 ? axes : undefined, 'f32');
    }
  });

  it('long reductions in several passes, with and without subgroups, f16 and u8 inputs', async () => {
    const e = await getEngine();
    for (const op of ['sum', 'mean', 'max', 'variance', 'argmax'] as ReduceOp[]) {
      await check(e, op, [300001], undefined, 'f32');
      await check(e, op, [3, 70001], [1], 'f32');
    }
    // The workgroup-memory tree (adapters without subgroups). Its pipelines are slow to build on a CPU driver,
    // so two op families cover it: plain sums and the index-carrying max merge.
    for (const op of ['sum', 'argmax'] as ReduceOp[]) {
      await check(e, op, [300001], undefined, 'f32', { noSubgroups: true });
      await check(e, op, [3, 70001], [1], 'f32', { noSubgroups: true });
    }
    if (e.gpu.hasF16) {
      for (const op of ['sum', 'mean', 'min', 'variance'] as ReduceOp[]) await check(e, op, [7, 2001], [1], 'f16');
      await check(e, 'argmin', [7, 201], [0], 'f16');
    }
    await check(e, 'sum', [17, 9], [0], 'u8');
    await check(e, 'max', [5001], undefined, 'u8');
  });

  it('keepDims, unbiased variance, empty and trivial reductions', async () => {
    const e = await getEngine();
    expect(await check(e, 'variance', [4, 6, 5], [1], 'f32', { keepDims: true, unbiased: true })).toEqual([4, 1, 5]);
    expect(await check(e, 'sum', [4, 6, 5], undefined, 'f32', { keepDims: true })).toEqual([1, 1, 1]);
    expect(await check(e, 'sum', [4, 6, 5], undefined, 'f32')).toEqual([]);
    expect(await check(e, 'max', [4, 1, 5], [1], 'f32')).toEqual([4, 5]);
    expect(Array.from(await reduce('sum', e.zeros([3, 0]), { axes: [1] }).read())).toEqual([0, 0, 0]);
    expect(Array.from(await reduce('mean', e.zeros([2, 0]), { axes: [1] }).read()).every(Number.isNaN)).toBe(true);
    expect(reduce('sum', e.zeros([0, 3]), { axes: [1] }).shape).toEqual([0]);
    expect(() => reduce('max', e.zeros([3, 0]), { axes: [1] })).toThrow(/max: cannot reduce tensor \[3, 0\]/);
    const nan = await reduce('max', e.tensor([1, NaN, 3, 2], [4])).item();
    expect(nan).toBeNaN();
    expect(await reduce('argmax', e.tensor([1, 5, 3, 5], [4])).item()).toBe(1);
  });

  it('rejects bad axes and dtypes naming the shape', async () => {
    const e = await getEngine();
    expect(() => reduce('sum', e.zeros([2, 3]), { axes: [2] })).toThrow(/sum: axis 2 is out of range for tensor \[2, 3\]/);
    expect(() => reduce('sum', e.zeros([2, 3]), { axes: [1, -1] })).toThrow(/repeated axis/);
    expect(() => reduce('sum', e.zeros([2, 3], 'i32'))).toThrow(/dtype i32 .*not supported/);
    expect(() => reduce('argmax', e.zeros([2, 3]), { axes: [0, 1] })).toThrow(/argmax: takes one axis/);
  });
});
