// Mixed-precision conv3d / convTranspose3d: f16 activations (x, y, dy, dx), f32 parameters (w, bias, dw, db), f32
// accumulation. Each pass is compared with the float64 reference computed from the f16-rounded activations and
// the f32 weights, so the only differences left are f32 summation (~1e-6 relative) and, for f16 outputs, the one
// final rounding to f16: at most 2^-11 ≈ 4.9e-4 relative per element (round to nearest, 11-bit significand), so
// ‖y − ref‖/‖ref‖ ≤ 4.9e-4 and typically ≈ 2.8e-4 (uniform rounding error, RMS 2^-11/√3). The bound 1e-3 leaves a
// factor 2 over that worst case and still fails on any real error (a wrong tap, channel or missed element gives
// O(1e-2) or more). f32 outputs (dw, db) keep the f32 bound 1e-5.
import { afterEach, describe, expect, it } from 'vitest';
import {
  conv3dBackwardBias,
  conv3dBackwardInput,
  conv3dBackwardInputWith,
  conv3dBackwardWeight,
  conv3dBackwardWeightWith,
  conv3dForward,
  conv3dForwardWith,
  directVariants,
  tuneConv3d,
  wgradVariants,
} from '../../kernels/conv3d.js';
import {
  convTranspose3dBackwardBias,
  convTranspose3dBackwardInput,
  convTranspose3dBackwardWeight,
  convTranspose3dForward,
  tuneConvTranspose3d,
} from '../../kernels/convtranspose3d.js';
import { forceVariant, tuneRecords } from '../../kernels/autotune.js';
import { roundF16 } from '../../src/tensor/f16.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import {
  convOutShape,
  convTOutShape,
  refBiasGrad,
  refConv3d,
  refConv3dDw,
  refConv3dDx,
  refConvT3d,
  refConvT3dDw,
  refConvT3dDx,
  type S5,
  type T3,
  poisonPool,
  size,
  type ConvCase,
} from './conv-ref.js';

const F16_TOL = 1e-3;
const F32_TOL = 1e-5;
const f16Values = (n: number, seed: number) => Float64Array.from(randArray(n, seed), roundF16);
const f32Values = (n: number, seed: number) => Float64Array.from(randArray(n, seed), Math.fround);
const read = async (t: Tensor) => (await t.read()) as Float32Array;


type Case = ConvCase;

// Odd sizes; kernels 1, 2, 3 and mixed; stride 1 and 2; Cout not a multiple of 4; bias on some.
const CASES: Case[] = [
  { xs: [2, 3, 7, 6, 9], ws: [5, 3, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1], bias: true },
  { xs: [1, 4, 9, 8, 11], ws: [6, 4, 3, 3, 3], s: [2, 2, 2], p: [1, 1, 1], bias: true },
  { xs: [1, 5, 7, 8, 9], ws: [9, 5, 1, 1, 1], s: [2, 2, 2], p: [0, 0, 0] },
  { xs: [1, 3, 8, 7, 9], ws: [7, 3, 2, 2, 2], s: [2, 2, 2], p: [0, 0, 0], bias: true },
  { xs: [2, 1, 6, 7, 10], ws: [3, 1, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1] },
  { xs: [1, 6, 5, 6, 7], ws: [10, 6, 3, 2, 1], s: [1, 2, 2], p: [1, 0, 0], bias: true },
];

const describeCase = (c: Case) => `x${c.xs.join('x')} w${c.ws.join('x')} s${c.s.join('')} p${c.p.join('')}${c.bias ? ' +bias' : ''}`;

afterEach(() => {
  for (const k of ['conv3d.fwd', 'conv3d.dgrad', 'conv3d.wgrad']) forceVariant(k, null);
});

describe('conv3d in mixed precision (f16 activations, f32 parameters and sums)', async () => {
  const e = await getEngine();

  it.skipIf(!e.gpu.hasF16)('needs and has shader-f16 on this adapter', () => {
    expect(e.gpu.hasF16).toBe(true);
  });

  for (const [ci, c] of CASES.entries()) {
    it.skipIf(!e.gpu.hasF16)(`forward, input gradient, weight gradient, bias gradient: ${describeCase(c)}`, async () => {
      const x = f16Values(size(c.xs), 100 + ci);
      const w = f32Values(size(c.ws), 200 + ci);
      const b = c.bias ? f32Values(c.ws[0], 300 + ci) : null;
      const ys = convOutShape(c.xs, c.ws, c.s, c.p);
      const dy = f16Values(size(ys), 400 + ci);
      const xt = e.tensor(x, c.xs, 'f16');
      const wt = e.tensor(w, c.ws);
      const bt = b ? e.tensor(b, [c.ws[0]]) : null;
      const dyt = e.tensor(dy, ys, 'f16');
      const opts = { stride: c.s, padding: c.p };

      poisonPool(e, ys, 'f16');
      const y = conv3dForward(xt, wt, bt, opts);
      expect(y.dtype).toBe('f16');
      expect(y.shape).toEqual(ys);
      expect(relErr(await read(y), refConv3d(x, c.xs, w, c.ws, b, c.s, c.p))).toBeLessThan(F16_TOL);

      poisonPool(e, c.xs, 'f16');
      const dx = conv3dBackwardInput(dyt, wt, c.xs, opts);
      expect(dx.dtype).toBe('f16');
      expect(relErr(await read(dx), refConv3dDx(dy, w, c.ws, c.xs, c.s, c.p))).toBeLessThan(F16_TOL);

      poisonPool(e, c.ws, 'f32');
      const dw = conv3dBackwardWeight(dyt, xt, c.ws, opts);
      expect(dw.dtype).toBe('f32');
      expect(relErr(await read(dw), refConv3dDw(dy, x, c.xs, c.ws, c.s, c.p))).toBeLessThan(F32_TOL);

      poisonPool(e, [c.ws[0]], 'f32');
      const db = conv3dBackwardBias(dyt);
      expect(db.dtype).toBe('f32');
      expect(relErr(await read(db), refBiasGrad(dy, ys))).toBeLessThan(F32_TOL);
      for (const t of [xt, wt, dyt, y, dx, dw, db]) t.dispose();
      bt?.dispose();
    });
  }

  it.skipIf(!e.gpu.hasF16)('every variant (register, subgroup, tiled, split-K) takes f16 and writes every element', async () => {
    const c: Case = { xs: [1, 9, 7, 5, 11], ws: [11, 9, 3, 3, 3], s: [2, 1, 2], p: [1, 1, 1], bias: true };
    const x = f16Values(size(c.xs), 5);
    const w = f32Values(size(c.ws), 6);
    const b = f32Values(c.ws[0], 7);
    const ys = convOutShape(c.xs, c.ws, c.s, c.p);
    const dy = f16Values(size(ys), 8);
    const [xt, wt, bt, dyt] = [e.tensor(x, c.xs, 'f16'), e.tensor(w, c.ws), e.tensor(b, [c.ws[0]]), e.tensor(dy, ys, 'f16')];
    const opts = { stride: c.s, padding: c.p };
    const refY = refConv3d(x, c.xs, w, c.ws, b, c.s, c.p);
    const refDx = refConv3dDx(dy, w, c.ws, c.xs, c.s, c.p);
    const refDw = refConv3dDw(dy, x, c.xs, c.ws, c.s, c.p);
    const variants = directVariants(e);
    expect(variants.some((v) => (v.config.split ?? 1) > 1)).toBe(true);
    for (const v of variants) {
      poisonPool(e, ys, 'f16');
      const y = conv3dForwardWith(xt, wt, bt, opts, v.config);
      expect(y.dtype).toBe('f16');
      expect(relErr(await read(y), refY), `forward ${v.name}`).toBeLessThan(F16_TOL);
      poisonPool(e, c.xs, 'f16');
      const dx = conv3dBackwardInputWith(dyt, wt, c.xs, opts, v.config);
      expect(relErr(await read(dx), refDx), `input gradient ${v.name}`).toBeLessThan(F16_TOL);
      // The same call with bias on the input gradient (convTranspose3d's forward path).
      const dxb = conv3dBackwardInputWith(dyt, wt, c.xs, opts, v.config, e.tensor(f32Values(c.xs[1], 9), [c.xs[1]]));
      const bias2 = f32Values(c.xs[1], 9);
      const vol = c.xs[2] * c.xs[3] * c.xs[4];
      expect(relErr(await read(dxb), refDx.map((r, i) => r + bias2[Math.floor(i / vol) % c.xs[1]])), `input gradient + bias ${v.name}`).toBeLessThan(F16_TOL);
      [y, dx, dxb].forEach((t) => t.dispose());
    }
    for (const v of wgradVariants(e)) {
      poisonPool(e, c.ws, 'f32');
      const dw = conv3dBackwardWeightWith(dyt, xt, c.ws, opts, v.config);
      expect(relErr(await read(dw), refDw), `weight gradient ${v.name}`).toBeLessThan(F32_TOL);
      dw.dispose();
    }
    [xt, wt, bt, dyt].forEach((t) => t.dispose());
  }, 900_000);

  it.skipIf(!e.gpu.hasF16)('with the same variant, every f16 output is the f32 output rounded once to f16', async () => {
    const c: Case = { xs: [1, 4, 6, 5, 7], ws: [6, 4, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1], bias: true };
    const x = f16Values(size(c.xs), 21);
    const w = f32Values(size(c.ws), 22);
    const b = f32Values(c.ws[0], 23);
    const opts = { stride: c.s, padding: c.p };
    for (const variant of ['reg8x4', 'sgw8x4k2']) {
      if (!directVariants(e).some((v) => v.name === variant)) continue;
      forceVariant('conv3d.fwd', variant);
      const y16 = await read(conv3dForward(e.tensor(x, c.xs, 'f16'), e.tensor(w, c.ws), e.tensor(b, [6]), opts));
      const y32 = await read(conv3dForward(e.tensor(x, c.xs), e.tensor(w, c.ws), e.tensor(b, [6]), opts));
      // Same kernel, same summation order, f32 throughout: the f16 path only adds the final rounding.
      let mismatches = 0;
      for (let i = 0; i < y32.length; i++) if (y16[i] !== roundF16(y32[i])) mismatches++;
      expect(mismatches, variant).toBe(0);
    }
  });

  it.skipIf(!e.gpu.hasF16)('the autotuner keys its cache on the activation dtype', async () => {
    const xs: S5 = [1, 4, 5, 6, 7];
    const ws: S5 = [8, 4, 3, 3, 3];
    const w16 = await tuneConv3d(e, xs, ws, { padding: 1 }, 'f16');
    const w32 = await tuneConv3d(e, xs, ws, { padding: 1 }, 'f32');
    const recs = tuneRecords().filter((r) => r.kernel === 'conv3d.fwd' && r.shapeClass.includes(':ci4:co8:k333:'));
    const classes = recs.map((r) => r.shapeClass);
    expect(classes.some((s) => s.endsWith(':f16'))).toBe(true);
    expect(classes.some((s) => s.endsWith(':f32'))).toBe(true);
    for (const r of recs) for (const ms of Object.values(r.times)) expect(Number.isFinite(ms)).toBe(true);
    expect(typeof w16.fwd).toBe('string');
    expect(typeof w32.fwd).toBe('string');
    const t = await tuneConvTranspose3d(e, [1, 4, 3, 3, 3], [4, 3, 2, 2, 2], { stride: 2 }, 'f16');
    expect(typeof t.fwd).toBe('string');
    expect(tuneRecords().some((r) => r.kernel === 'convT3d.fwd' && r.shapeClass.endsWith(':f16'))).toBe(true);
  }, 600_000);

  it.skipIf(!e.gpu.hasF16)('rejects wrong dtype combinations with one clear line', () => {
    const x16 = e.zeros([1, 3, 4, 4, 4], 'f16');
    const x32 = e.zeros([1, 3, 4, 4, 4]);
    const w32 = e.zeros([2, 3, 3, 3, 3]);
    const w16 = e.zeros([2, 3, 3, 3, 3], 'f16');
    const dy16 = e.zeros([1, 2, 4, 4, 4], 'f16');
    const dy32 = e.zeros([1, 2, 4, 4, 4]);
    const o = { padding: 1 };
    expect(() => conv3dForward(x16, w16, null, o)).toThrow(/conv3d: weight \[2, 3, 3, 3, 3\] has dtype f16; parameters must be f32/);
    expect(() => conv3dForward(x16, w32, e.zeros([2], 'f16'), o)).toThrow(/bias \[2\] has dtype f16; parameters must be f32/);
    expect(() => conv3dForward(e.zeros([1, 3, 4, 4, 4], 'i32'), w32, null, o)).toThrow(/input \[1, 3, 4, 4, 4\] has dtype i32; activations must be f32 or f16/);
    expect(() => conv3dBackwardInput(dy16, w16, [1, 3, 4, 4, 4], o)).toThrow(/weight .* has dtype f16; parameters must be f32/);
    expect(() => conv3dBackwardWeight(dy16, x32, [2, 3, 3, 3, 3], o)).toThrow(/dy \[1, 2, 4, 4, 4\] is f16 but input \[1, 3, 4, 4, 4\] is f32; both must be f32 or both f16/);
    expect(() => conv3dBackwardWeight(dy32, x16, [2, 3, 3, 3, 3], o)).toThrow(/dy .* is f32 but input .* is f16/);
    const tx16 = e.zeros([1, 3, 2, 2, 2], 'f16');
    expect(() => convTranspose3dForward(tx16, e.zeros([3, 2, 2, 2, 2], 'f16'), null)).toThrow(/convTranspose3d: weight \[3, 2, 2, 2, 2\] has dtype f16; parameters must be f32/);
    expect(() => convTranspose3dBackwardWeight(e.zeros([1, 2, 4, 4, 4]), tx16, [3, 2, 2, 2, 2])).toThrow(/convTranspose3d backward \(weight\): dy .* is f32 but input .* is f16/);
  });
});

describe('convTranspose3d in mixed precision', async () => {
  const e = await getEngine();
  const TCASES: Array<Case & { op?: T3 }> = [
    { xs: [2, 5, 3, 4, 5], ws: [5, 3, 2, 2, 2], s: [2, 2, 2], p: [0, 0, 0], bias: true },
    { xs: [1, 3, 4, 3, 5], ws: [3, 4, 3, 3, 3], s: [2, 2, 2], p: [1, 1, 1], op: [1, 0, 1], bias: true },
    { xs: [1, 6, 3, 4, 4], ws: [6, 3, 3, 1, 2], s: [1, 2, 1], p: [1, 0, 0] },
  ];
  for (const c of TCASES) {
    it.skipIf(!e.gpu.hasF16)(`forward, input gradient, weight gradient, bias gradient: ${describeCase(c)}${c.op ? ` op${c.op.join('')}` : ''}`, async () => {
      const op = c.op ?? [0, 0, 0];
      const x = f16Values(size(c.xs), 11);
      const w = f32Values(size(c.ws), 12);
      const b = c.bias ? f32Values(c.ws[1], 13) : null;
      const ys = convTOutShape(c.xs, c.ws, c.s, c.p, op);
      const dy = f16Values(size(ys), 14);
      const opts = { stride: c.s, padding: c.p, outputPadding: op };
      const xt = e.tensor(x, c.xs, 'f16');
      const wt = e.tensor(w, c.ws);
      const bt = b ? e.tensor(b, [c.ws[1]]) : null;
      const dyt = e.tensor(dy, ys, 'f16');

      poisonPool(e, ys, 'f16');
      const y = convTranspose3dForward(xt, wt, bt, opts);
      expect(y.dtype).toBe('f16');
      expect(y.shape).toEqual(ys);
      expect(relErr(await read(y), refConvT3d(x, c.xs, w, c.ws, b, c.s, c.p, op))).toBeLessThan(F16_TOL);
      poisonPool(e, c.xs, 'f16');
      const dx = convTranspose3dBackwardInput(dyt, wt, c.xs, opts);
      expect(dx.dtype).toBe('f16');
      expect(relErr(await read(dx), refConvT3dDx(dy, w, c.ws, c.xs, c.s, c.p, op))).toBeLessThan(F16_TOL);
      poisonPool(e, c.ws, 'f32');
      const dw = convTranspose3dBackwardWeight(dyt, xt, c.ws, opts);
      expect(dw.dtype).toBe('f32');
      expect(relErr(await read(dw), refConvT3dDw(dy, x, c.xs, c.ws, c.s, c.p, op))).toBeLessThan(F32_TOL);
      const db = convTranspose3dBackwardBias(dyt);
      expect(relErr(await read(db), refBiasGrad(dy, ys))).toBeLessThan(F32_TOL);
      for (const t of [xt, wt, dyt, y, dx, dw, db]) t.dispose();
      bt?.dispose();
    });
  }
});
