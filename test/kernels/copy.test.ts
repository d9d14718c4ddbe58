import { describe, expect, it } from 'vitest';
import { concat, slice, transpose } from '../../kernels/copy.js';
import type { DType } from '../../src/tensor/dtype.js';
import { roundF16 } from '../../src/tensor/f16.js';
import { sizeOf, stridesOf } from '../../src/tensor/shape.js';
import type { Engine } from '../../src/engine.js';
import { getEngine, poison, randArray } from '../helpers.js';

/** Leave a poisoned buffer of this size at the top of the pool, so the next allocation of the shape gets it. */
function poisonNext(e: Engine, shape: number[], dtype: DType): void {
  const t = e.empty(shape, dtype);
  poison(t);
  t.dispose();
}

function vals(n: number, seed: number, dtype: DType): number[] {
  const r = randArray(n, seed, -100, 100);
  switch (dtype) {
    case 'f32':
      return Array.from(r, Math.fround);
    case 'f16':
      return Array.from(r, roundF16);
    case 'i32':
      return Array.from(r, (v) => Math.trunc(v * 1e6));
    case 'u32':
      return Array.from(r, (v) => Math.trunc(Math.abs(v) * 4e7));
    case 'u8':
      return Array.from(r, (v) => Math.trunc(Math.abs(v) * 2.55));
  }
}

function refTranspose(data: number[], shape: number[], perm: number[]): number[] {
  const outShape = perm.map((a) => shape[a]);
  const st = stridesOf(shape);
  const os = stridesOf(outShape);
  return Array.from({ length: data.length }, (_, e) => {
    let src = 0;
    for (let i = 0; i < outShape.length; i++) src += (Math.floor(e / os[i]) % outShape[i]) * st[perm[i]];
    return data[src];
  });
}

function refSlice(data: number[], shape: number[], axis: number, start: number, end: number, step: number): number[] {
  const st = stridesOf(shape);
  const len = Math.max(0, Math.ceil((end - start) / step));
  const outShape = shape.map((d, i) => (i === axis ? len : d));
  const os = stridesOf(outShape);
  return Array.from({ length: sizeOf(outShape) }, (_, e) => {
    let src = 0;
    for (let i = 0; i < shape.length; i++) {
      const c = Math.floor(e / os[i]) % outShape[i];
      src += (i === axis ? start + c * step : c) * st[i];
    }
    return data[src];
  });
}

describe('copies', () => {
  it('slice along every axis with steps, negative indices, every dtype', async () => {
    const e = await getEngine();
    const dtypes: DType[] = e.gpu.hasF16 ? ['f32', 'f16', 'i32', 'u32', 'u8'] : ['f32', 'i32', 'u32', 'u8'];
    const shape = [3, 7, 5, 6];
    for (const dtype of dtypes) {
      const data = vals(sizeOf(shape), 3, dtype);
      const t = e.tensor(data, shape, dtype);
      for (const [axis, start, end, step] of [[0, 1, 3, 1], [1, 1, 6, 2], [2, 0, 5, 3], [3, -4, -1, 1], [-1, 5, 6, 1], [1, 7, 7, 1], [3, 1, 6, 4]]) {
        const len = Math.max(0, Math.ceil(((end < 0 ? end + shape[(axis + 4) % 4] : end) - (start < 0 ? start + shape[(axis + 4) % 4] : start)) / step));
        poisonNext(e, shape.map((d, i) => (i === (axis + 4) % 4 ? len : d)), dtype);
        const out = slice(t, axis, start, end, step);
        const ax = axis < 0 ? axis + 4 : axis;
        const n = shape[ax];
        const s0 = start < 0 ? start + n : start;
        const e0 = end < 0 ? end + n : end;
        expect(Array.from(await out.read()), `${dtype} ${axis}:${start}:${end}:${step}`).toEqual(refSlice(data, shape, ax, s0, e0, step));
        out.dispose();
      }
      t.dispose();
    }
    const t = e.zeros([4, 5]);
    expect(slice(t, 1, 0, undefined, 2).shape).toEqual([4, 3]);
    expect(slice(t, 0, 2, 100).shape).toEqual([2, 5]);
    expect(() => slice(t, 2, 0, 1)).toThrow(/slice: axis 2 is out of range for rank 2/);
    expect(() => slice(t, 0, 0, 1, 0)).toThrow(/step must be an integer ≥ 1.*\[4, 5\]/);
  });

  it('transpose of any rank and dtype', async () => {
    const e = await getEngine();
    const dtypes: DType[] = e.gpu.hasF16 ? ['f32', 'f16', 'i32', 'u8'] : ['f32', 'i32', 'u8'];
    const cases: [number[], number[]][] = [
      [[5, 7], [1, 0]],
      [[3, 5, 7], [2, 0, 1]],
      [[2, 3, 4, 5, 3], [4, 2, 0, 3, 1]],
      [[2, 1, 3, 2, 3, 2, 3], [6, 5, 4, 3, 2, 1, 0]], // rank 7 with a size-1 axis: merges to ≤ 6
      [[4, 1, 5], [1, 0, 2]], // moves only a size-1 axis: a plain copy
      [[9], [0]],
    ];
    for (const dtype of dtypes) {
      for (const [shape, perm] of cases) {
        const data = vals(sizeOf(shape), 9, dtype);
        const src = e.tensor(data, shape, dtype);
        poisonNext(e, shape, dtype);
        const out = transpose(src, perm);
        expect(out.shape).toEqual(perm.map((a) => shape[a]));
        expect(Array.from(await out.read()), `${dtype} [${shape}] ${perm}`).toEqual(refTranspose(data, shape, perm));
      }
    }
    expect(transpose(e.zeros([2, 3, 4])).shape).toEqual([4, 3, 2]);
    expect(() => transpose(e.zeros([2, 3]), [0, 0])).toThrow(/transpose: \[0,0\] is not a permutation of the 2 axes of tensor \[2, 3\]/);
  });

  it('concat of N tensors along any axis, word-aligned and not', async () => {
    const e = await getEngine();
    const dtypes: DType[] = e.gpu.hasF16 ? ['f32', 'f16', 'i32', 'u8'] : ['f32', 'i32', 'u8'];
    for (const dtype of dtypes) {
      for (const [axis, sizes, base] of [
        [1, [3, 1, 4], [2, 0, 5]],
        [0, [2, 3], [0, 3, 4]],
        [2, [1, 2, 3, 5, 7], [3, 2, 0]],
        [1, [4, 8], [3, 0, 2]], // u8/f16 word-aligned pieces
        [1, [0, 3], [2, 0, 3]],
      ] as [number, number[], number[]][]) {
        const shapes = sizes.map((s) => base.map((d, i) => (i === axis ? s : d)));
        const datas = shapes.map((s, k) => vals(sizeOf(s), 20 + k, dtype));
        const ts = shapes.map((s, k) => e.tensor(datas[k], s, dtype));
        const total = sizes.reduce((a, b) => a + b, 0);
        const outShape = base.map((d, i) => (i === axis ? total : d));
        poisonNext(e, outShape, dtype);
        const out = concat(ts, axis);
        expect(out.shape).toEqual(outShape);
        // Reference: output element → which piece and where.
        const os = stridesOf(outShape);
        const ref = Array.from({ length: sizeOf(outShape) }, (_, el) => {
          const c = outShape.map((d, i) => Math.floor(el / os[i]) % d);
          let k = 0;
          let a = c[axis];
          while (a >= sizes[k]) a -= sizes[k++];
          const cc = c.map((v, i) => (i === axis ? a : v));
          const ss = stridesOf(shapes[k]);
          return datas[k][cc.reduce((acc, v, i) => acc + v * ss[i], 0)];
        });
        expect(Array.from(await out.read()), `${dtype} axis ${axis} sizes ${sizes}`).toEqual(ref);
      }
    }
    expect(() => concat([e.zeros([2, 3]), e.zeros([2, 4])], 0)).toThrow(/concat: shapes \[2, 3\] and \[2, 4\] differ outside axis 0/);
    expect(() => concat([e.zeros([2]), e.zeros([2], 'i32')], 0)).toThrow(/concat: dtypes f32 and i32 differ/);
  });
});
