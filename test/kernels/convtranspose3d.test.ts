import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  convTranspose3dBackwardBias,
  convTranspose3dBackwardInput,
  convTranspose3dBackwardWeight,
  convTranspose3dForward,
  convTranspose3dOutputShape,
  tuneConvTranspose3d,
} from '../../kernels/convtranspose3d.js';
import { readNpzFile } from '../../src/io/files.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { convTOutShape, dot, poisonPool, refBiasGrad, refConvT3d, refConvT3dDw, refConvT3dDx, type S5, type T3 } from './conv-ref.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

interface Case {
  xs: S5;
  ws: S5;
  s: T3;
  p: T3;
  op?: T3;
  bias?: boolean;
}

const CASES: Case[] = [
  // The decoder's upsampling: kernel 2, stride 2, no padding; odd sizes, channels not a multiple of 4.
  { xs: [2, 5, 3, 4, 5], ws: [5, 3, 2, 2, 2], s: [2, 2, 2], p: [0, 0, 0] },
  { xs: [1, 1, 5, 3, 7], ws: [1, 6, 2, 2, 2], s: [2, 2, 2], p: [0, 0, 0], bias: true },
  { xs: [1, 9, 2, 3, 3], ws: [9, 10, 2, 2, 2], s: [2, 2, 2], p: [0, 0, 0] },
  // General kernel / stride / padding / output padding.
  { xs: [1, 3, 4, 3, 5], ws: [3, 4, 3, 3, 3], s: [2, 2, 2], p: [1, 1, 1], op: [1, 0, 1], bias: true },
  { xs: [2, 2, 3, 4, 4], ws: [2, 3, 3, 1, 2], s: [1, 2, 1], p: [1, 0, 0] },
  { xs: [1, 2, 3, 3, 4], ws: [2, 5, 3, 3, 3], s: [3, 3, 3], p: [0, 1, 0], op: [2, 0, 1] },
];

const read = async (t: Tensor) => (await t.read()) as Float32Array;

describe('convTranspose3d CPU reference', () => {
  it('backward passes agree with finite differences of the forward', () => {
    const c: Case = { xs: [1, 2, 3, 2, 3], ws: [2, 3, 2, 3, 2], s: [2, 1, 2], p: [0, 1, 0], op: [1, 0, 0] };
    const x = randArray(size(c.xs), 1);
    const w = randArray(size(c.ws), 2);
    const b = randArray(c.ws[1], 3);
    const ys = convTOutShape(c.xs, c.ws, c.s, c.p, c.op);
    const g = randArray(size(ys), 4);
    const h = 1e-3;
    const f = () => dot(refConvT3d(x, c.xs, w, c.ws, b, c.s, c.p, c.op), g);
    const fd = (arr: Float64Array) =>
      Float64Array.from(arr, (_, i) => {
        const v = arr[i];
        arr[i] = v + h;
        const lp = f();
        arr[i] = v - h;
        const lm = f();
        arr[i] = v;
        return (lp - lm) / (2 * h);
      });
    expect(relErr(refConvT3dDx(g, w, c.ws, c.xs, c.s, c.p, c.op), fd(x))).toBeLessThan(1e-8);
    expect(relErr(refConvT3dDw(g, x, c.xs, c.ws, c.s, c.p, c.op), fd(w))).toBeLessThan(1e-8);
    expect(relErr(refBiasGrad(g, ys), fd(b))).toBeLessThan(1e-8);
  });
});

describe('convTranspose3d kernels against the float64 reference', () => {
  for (const [i, c] of CASES.entries()) {
    const name = `x${c.xs.join('x')} w${c.ws.join('x')} s${c.s.join('')} p${c.p.join('')}${c.op ? ` op${c.op.join('')}` : ''}${c.bias ? ' +bias' : ''}`;
    it(`forward, input gradient, weight gradient: ${name}`, async () => {
      const e = await getEngine();
      const op = c.op ?? [0, 0, 0];
      const x = randArray(size(c.xs), 100 + i);
      const w = randArray(size(c.ws), 200 + i);
      const b = c.bias ? randArray(c.ws[1], 300 + i) : null;
      const ys = convTOutShape(c.xs, c.ws, c.s, c.p, op);
      const dy = randArray(size(ys), 400 + i);
      const xt = e.tensor(Float32Array.from(x), c.xs);
      const wt = e.tensor(Float32Array.from(w), c.ws);
      const bt = b ? e.tensor(Float32Array.from(b), [c.ws[1]]) : null;
      const dyt = e.tensor(Float32Array.from(dy), ys);
      const opts = { stride: c.s, padding: c.p, outputPadding: op };
      expect(convTranspose3dOutputShape(c.xs, c.ws, opts)).toEqual(ys);
      poisonPool(e, ys);
      const y = convTranspose3dForward(xt, wt, bt, opts);
      expect(y.shape).toEqual(ys);
      expect(relErr(await read(y), refConvT3d(x, c.xs, w, c.ws, b, c.s, c.p, op))).toBeLessThan(1e-5);
      poisonPool(e, c.xs);
      const dx = convTranspose3dBackwardInput(dyt, wt, c.xs, opts);
      expect(relErr(await read(dx), refConvT3dDx(dy, w, c.ws, c.xs, c.s, c.p, op))).toBeLessThan(1e-5);
      poisonPool(e, c.ws);
      const dw = convTranspose3dBackwardWeight(dyt, xt, c.ws, opts);
      expect(relErr(await read(dw), refConvT3dDw(dy, x, c.xs, c.ws, c.s, c.p, op))).toBeLessThan(1e-5);
      if (b) expect(relErr(await read(convTranspose3dBackwardBias(dyt)), refBiasGrad(dy, ys))).toBeLessThan(1e-5);
      for (const t of [xt, wt, dyt, y, dx, dw]) t.dispose();
      bt?.dispose();
    });
  }

  it('tunes the three passes for a decoder shape', async () => {
    const e = await getEngine();
    const r = await tuneConvTranspose3d(e, [1, 8, 3, 3, 5], [8, 4, 2, 2, 2]);
    expect(Object.keys(r).sort()).toEqual(['dgrad', 'fwd', 'wgrad']);
  });

  it('rejects bad shapes with one clear line', async () => {
    const e = await getEngine();
    const x = e.zeros([1, 4, 3, 3, 3]);
    expect(() => convTranspose3dForward(x, e.zeros([3, 2, 2, 2, 2]), null)).toThrow(/input \[1, 4, 3, 3, 3\] has 4 channels but weight \[3, 2, 2, 2, 2\] expects 3/);
    expect(() => convTranspose3dForward(x, e.zeros([4, 2, 2, 2, 2]), e.zeros([3]))).toThrow(/bias \[3\] must have shape \[2\]/);
    expect(() => convTranspose3dForward(x, e.zeros([4, 2, 2, 2, 2]), null, { outputPadding: 2 })).toThrow(/outputPadding/);
    expect(() => convTranspose3dBackwardInput(e.zeros([1, 2, 6, 6, 5]), e.zeros([4, 2, 2, 2, 2]), [1, 4, 3, 3, 3])).toThrow(
      /dy \[1, 2, 6, 6, 5\] does not match the output shape \[1, 2, 6, 6, 6\]/,
    );
  });
});

const fixturePath = resolve(process.cwd(), '../shared/fixtures/torch/ops.npz');

describe.skipIf(!existsSync(fixturePath))('convTranspose3d against the PyTorch fixtures', () => {
  it('convtranspose3d_k2s2: y, dx, dw within 1e-4', async () => {
    const z = readNpzFile(fixturePath);
    const get = (k: string) => z.get(`convtranspose3d_k2s2.${k}`)!;
    const f32 = (k: string) => Float32Array.from(get(k).data as Float64Array);
    const e = await getEngine();
    const xs = get('x').shape;
    const ws = get('w').shape;
    const xt = e.tensor(f32('x'), xs);
    const wt = e.tensor(f32('w'), ws);
    const dyt = e.tensor(f32('dy'), get('dy').shape);
    const ref = (k: string) => get(k).data as Float64Array;
    expect(relErr(await read(convTranspose3dForward(xt, wt, null)), ref('y'))).toBeLessThan(1e-4);
    expect(relErr(await read(convTranspose3dBackwardInput(dyt, wt, xs)), ref('dx'))).toBeLessThan(1e-4);
    expect(relErr(await read(convTranspose3dBackwardWeight(dyt, xt, ws)), ref('dw'))).toBeLessThan(1e-4);
  });
});
