import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  conv3dBackwardBias,
  conv3dBackwardInput,
  conv3dBackwardInputWith,
  conv3dBackwardWeight,
  conv3dBackwardWeightWith,
  conv3dForward,
  conv3dForwardWith,
  DIRECT_VARIANTS,
  directVariants,
  WGRAD_VARIANTS,
  wgradVariants,
  tuneConv3d,
} from '../../kernels/conv3d.js';
import { choose, forceVariant, tuneRecords } from '../../kernels/autotune.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { convOutShape, dot, poisonPool, refBiasGrad, refConv3d, refConv3dDw, refConv3dDx, size, type ConvCase, type S5, type T3 } from './conv-ref.js';
import type { Engine } from '../../src/engine.js';
import { readNpzFile } from '../../src/io/files.js';
import type { Tensor } from '../../src/tensor/tensor.js';


type Case = ConvCase;

// Odd, non-tile-multiple sizes; every kernel size 1–3 and stride 1–2 per axis, mixed; Cin = 1; Cout not a
// multiple of 4; sizes where a strided forward drops trailing input rows.
const CASES: Case[] = [
  { xs: [2, 3, 7, 6, 9], ws: [5, 3, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1], bias: true },
  { xs: [1, 2, 9, 8, 11], ws: [6, 2, 3, 3, 3], s: [2, 2, 2], p: [1, 1, 1] },
  { xs: [2, 1, 6, 7, 10], ws: [3, 1, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1], bias: true },
  { xs: [1, 5, 7, 8, 9], ws: [9, 5, 1, 1, 1], s: [2, 2, 2], p: [0, 0, 0] },
  { xs: [1, 4, 5, 6, 13], ws: [7, 4, 1, 1, 1], s: [1, 1, 1], p: [0, 0, 0], bias: true },
  { xs: [1, 3, 8, 7, 9], ws: [4, 3, 2, 2, 2], s: [2, 2, 2], p: [0, 0, 0] },
  { xs: [1, 3, 6, 9, 8], ws: [2, 3, 3, 2, 1], s: [1, 2, 2], p: [1, 0, 0], bias: true },
  { xs: [2, 2, 5, 7, 10], ws: [3, 2, 1, 3, 2], s: [2, 1, 2], p: [0, 1, 1] },
  { xs: [1, 6, 4, 5, 6], ws: [10, 6, 3, 3, 3], s: [1, 1, 2], p: [2, 0, 1] },
];

async function upload(e: Engine, data: Float64Array, shape: readonly number[]): Promise<Tensor> {
  return e.tensor(Float32Array.from(data), shape);
}

async function read(t: Tensor): Promise<Float32Array> {
  return (await t.read()) as Float32Array;
}

function describeCase(c: Case): string {
  return `x${c.xs.join('x')} w${c.ws.join('x')} s${c.s.join('')} p${c.p.join('')}${c.bias ? ' +bias' : ''}`;
}

afterEach(() => {
  forceVariant('conv3d.fwd', null);
  forceVariant('conv3d.dgrad', null);
  forceVariant('conv3d.wgrad', null);
});

describe('conv3d CPU reference', () => {
  it('backward passes agree with finite differences of the forward', () => {
    // L = <conv3d(x, w) + b, g>; dL/dx, dL/dw, dL/db by central differences at every element of small tensors.
    for (const c of [
      { xs: [1, 2, 4, 3, 5] as S5, ws: [3, 2, 3, 2, 3] as S5, s: [1, 2, 2] as T3, p: [1, 0, 1] as T3 },
      { xs: [2, 1, 5, 5, 4] as S5, ws: [2, 1, 1, 3, 2] as S5, s: [2, 1, 2] as T3, p: [0, 1, 0] as T3 },
    ]) {
      const x = randArray(size(c.xs), 1);
      const w = randArray(size(c.ws), 2);
      const b = randArray(c.ws[0], 3);
      const ys = convOutShape(c.xs, c.ws, c.s, c.p);
      const g = randArray(size(ys), 4);
      const loss = (xx: Float64Array, ww: Float64Array, bb: Float64Array) => dot(refConv3d(xx, c.xs, ww, c.ws, bb, c.s, c.p), g);
      const h = 1e-3;
      const fd = (arr: Float64Array, f: () => number) =>
        Float64Array.from(arr, (_, i) => {
          const v = arr[i];
          arr[i] = v + h;
          const lp = f();
          arr[i] = v - h;
          const lm = f();
          arr[i] = v;
          return (lp - lm) / (2 * h);
        });
      const f = () => loss(x, w, b);
      expect(relErr(refConv3dDx(g, w, c.ws, c.xs, c.s, c.p), fd(x, f))).toBeLessThan(1e-8);
      expect(relErr(refConv3dDw(g, x, c.xs, c.ws, c.s, c.p), fd(w, f))).toBeLessThan(1e-8);
      expect(relErr(refBiasGrad(g, ys), fd(b, f))).toBeLessThan(1e-8);
    }
  });
});

describe('conv3d kernels against the float64 reference', () => {
  for (const [ci, c] of CASES.entries()) {
    it(`forward, input gradient, weight gradient, bias gradient: ${describeCase(c)}`, async () => {
      const e = await getEngine();
      const x = randArray(size(c.xs), 10 + ci);
      const w = randArray(size(c.ws), 20 + ci);
      const b = c.bias ? randArray(c.ws[0], 30 + ci) : null;
      const ys = convOutShape(c.xs, c.ws, c.s, c.p);
      const dy = randArray(size(ys), 40 + ci);
      const xt = await upload(e, x, c.xs);
      const wt = await upload(e, w, c.ws);
      const bt = b ? await upload(e, b, [c.ws[0]]) : null;
      const dyt = await upload(e, dy, ys);
      const opts = { stride: c.s, padding: c.p };

      poisonPool(e, ys);
      const y = conv3dForward(xt, wt, bt, opts);
      expect(y.shape).toEqual(ys);
      expect(relErr(await read(y), refConv3d(x, c.xs, w, c.ws, b, c.s, c.p))).toBeLessThan(1e-5);

      poisonPool(e, c.xs);
      const dx = conv3dBackwardInput(dyt, wt, c.xs, opts);
      expect(dx.shape).toEqual(c.xs);
      expect(relErr(await read(dx), refConv3dDx(dy, w, c.ws, c.xs, c.s, c.p))).toBeLessThan(1e-5);

      poisonPool(e, c.ws);
      const dw = conv3dBackwardWeight(dyt, xt, c.ws, opts);
      expect(dw.shape).toEqual(c.ws);
      expect(relErr(await read(dw), refConv3dDw(dy, x, c.xs, c.ws, c.s, c.p))).toBeLessThan(1e-5);

      poisonPool(e, [c.ws[0]]);
      const db = conv3dBackwardBias(dyt);
      expect(relErr(await read(db), refBiasGrad(dy, ys))).toBeLessThan(1e-5);
      for (const t of [xt, wt, dyt, y, dx, dw, db]) t.dispose();
      bt?.dispose();
    });
  }

  it('every variant writes every element (outputs poisoned first)', async () => {
    const e = await getEngine();
    const c: Case = { xs: [2, 3, 7, 5, 11], ws: [9, 3, 3, 3, 3], s: [2, 1, 2], p: [1, 1, 1], bias: true };
    const x = randArray(size(c.xs), 5);
    const w = randArray(size(c.ws), 6);
    const b = randArray(c.ws[0], 7);
    const ys = convOutShape(c.xs, c.ws, c.s, c.p);
    const dy = randArray(size(ys), 8);
    const [xt, wt, bt, dyt] = [await upload(e, x, c.xs), await upload(e, w, c.ws), await upload(e, b, [9]), await upload(e, dy, ys)];
    const opts = { stride: c.s, padding: c.p };
    const refY = refConv3d(x, c.xs, w, c.ws, b, c.s, c.p);
    const refDx = refConv3dDx(dy, w, c.ws, c.xs, c.s, c.p);
    const refDw = refConv3dDw(dy, x, c.xs, c.ws, c.s, c.p);
    const variants = directVariants(e);
    // Every kernel family runs here: the register tiles, the workgroup-memory tiles, (lavapipe has subgroups of
    // 8) the split-K subgroup kernel, and the split-K-over-workgroups variants (partials + reduce, with bias).
    expect(variants.map((v) => v.config.kind)).toEqual(expect.arrayContaining(['reg', 'tiled', ...(e.gpu.hasSubgroups ? ['sgk'] : [])]));
    expect(variants.some((v) => (v.config.split ?? 1) > 1)).toBe(true);
    if (e.gpu.hasSubgroups) expect(variants.some((v) => v.config.sgw)).toBe(true);
    for (const v of variants) {
      poisonPool(e, ys);
      const y = conv3dForwardWith(xt, wt, bt, opts, v.config);
      expect(relErr(await read(y), refY), `forward ${v.name}`).toBeLessThan(1e-5);
      poisonPool(e, c.xs);
      const dx = conv3dBackwardInputWith(dyt, wt, c.xs, opts, v.config);
      expect(relErr(await read(dx), refDx), `input gradient ${v.name}`).toBeLessThan(1e-5);
      y.dispose();
      dx.dispose();
    }
    // The input gradient of a 1×1×1 stride-2 conv: the odd residue classes have no taps at all (an empty K, which
    // the staged kernels' K table must survive), and their dx is 0.
    {
      const xs1: S5 = [1, 3, 5, 6, 7];
      const ws1: S5 = [4, 3, 1, 1, 1];
      const w1 = randArray(size(ws1), 63);
      const dys1 = convOutShape(xs1, ws1, [2, 2, 2], [0, 0, 0]);
      const dy1 = randArray(size(dys1), 64);
      const [w1t, dy1t] = [await upload(e, w1, ws1), await upload(e, dy1, dys1)];
      const ref = refConv3dDx(dy1, w1, ws1, xs1, [2, 2, 2], [0, 0, 0]);
      for (const v of variants) {
        poisonPool(e, xs1);
        const dx1 = conv3dBackwardInputWith(dy1t, w1t, xs1, { stride: 2 }, v.config);
        expect(relErr(await read(dx1), ref), `input gradient 1x1x1 stride 2 ${v.name}`).toBeLessThan(1e-5);
        dx1.dispose();
      }
      for (const t of [w1t, dy1t]) t.dispose();
    }
    for (const v of wgradVariants(e)) {
      poisonPool(e, c.ws);
      const dw = conv3dBackwardWeightWith(dyt, xt, c.ws, opts, v.config);
      expect(relErr(await read(dw), refDw), `weight gradient ${v.name}`).toBeLessThan(1e-5);
      dw.dispose();
      // A 1x1x1 kernel with one input channel runs the lane-set path (several K chunks per workgroup).
      const x1 = randArray(2 * 7 * 5 * 11, 61);
      const x1t = await upload(e, x1, [2, 1, 7, 5, 11]);
      const dy1s = convOutShape([2, 1, 7, 5, 11], [9, 1, 1, 1, 1], [2, 1, 2], [0, 0, 0]);
      const dy1 = randArray(size(dy1s), 62);
      const dy1t = await upload(e, dy1, dy1s);
      poisonPool(e, [9, 1, 1, 1, 1]);
      const dw1 = conv3dBackwardWeightWith(dy1t, x1t, [9, 1, 1, 1, 1], { stride: [2, 1, 2] }, v.config);
      expect(relErr(await read(dw1), refConv3dDw(dy1, x1, [2, 1, 7, 5, 11], [9, 1, 1, 1, 1], [2, 1, 2], [0, 0, 0])), `weight gradient 1x1x1 ${v.name}`).toBeLessThan(1e-5);
      for (const t of [x1t, dy1t, dw1]) t.dispose();
    }
    for (const t of [xt, wt, bt, dyt]) t.dispose();
  }, 900_000);

  it('channel-lane variants with more output-channel blocks than one workgroup holds (several z groups)', async () => {
    const e = await getEngine();
    // 261 output channels: 66 blocks of 4 (cl4x4: 64 per workgroup, so 2 groups) and 33 blocks of 8.
    const c: Case = { xs: [2, 3, 3, 4, 5], ws: [261, 3, 3, 3, 3], s: [1, 2, 1], p: [1, 1, 1], bias: true };
    const x = randArray(size(c.xs), 71);
    const w = randArray(size(c.ws), 72);
    const b = randArray(c.ws[0], 73);
    const ys = convOutShape(c.xs, c.ws, c.s, c.p);
    const [xt, wt, bt] = [await upload(e, x, c.xs), await upload(e, w, c.ws), await upload(e, b, [c.ws[0]])];
    const ref = refConv3d(x, c.xs, w, c.ws, b, c.s, c.p);
    for (const v of directVariants(e).filter((d) => d.config.cl)) {
      poisonPool(e, ys);
      const y = conv3dForwardWith(xt, wt, bt, { stride: c.s, padding: c.p }, v.config);
      expect(relErr(await read(y), ref), v.name).toBeLessThan(1e-5);
      y.dispose();
    }
    for (const t of [xt, wt, bt]) t.dispose();
  }, 300_000);

  it('the autotuner times the variants, caches a winner and honours a forced variant', async () => {
    const e = await getEngine();
    const xs: S5 = [1, 4, 6, 6, 10];
    const ws: S5 = [8, 4, 3, 3, 3];
    const winners = await tuneConv3d(e, xs, ws, { padding: 1 });
    expect(DIRECT_VARIANTS.map((v) => v.name)).toContain(winners.fwd);
    expect(WGRAD_VARIANTS.map((v) => v.name)).toContain(winners.wgrad);
    const rec = tuneRecords().find((r) => r.kernel === 'conv3d.fwd');
    expect(rec).toBeDefined();
    expect(Object.keys(rec!.times).length).toBeGreaterThanOrEqual(4);
    for (const ms of Object.values(rec!.times)) expect(ms).toBeGreaterThan(0);
    expect(choose(e, 'conv3d.fwd', rec!.shapeClass, DIRECT_VARIANTS, 'reg4x4').name).toBe(rec!.winner);
    forceVariant('conv3d.fwd', 'reg4x8');
    expect(choose(e, 'conv3d.fwd', rec!.shapeClass, DIRECT_VARIANTS, 'reg4x4').name).toBe('reg4x8');
    expect(conv3dForward(e.zeros(xs), e.zeros(ws), null, { padding: 1 }).shape).toEqual([1, 8, 6, 6, 10]);
    expect(() => choose(e, 'conv3d.fwd', rec!.shapeClass, DIRECT_VARIANTS.slice(0, 1), 'reg4x4')).toThrow(/no variant "reg4x8"/);
  }, 600_000);

  it('rejects bad shapes with one clear line', async () => {
    const e = await getEngine();
    const x = e.zeros([1, 3, 4, 4, 4]);
    const w = e.zeros([2, 4, 3, 3, 3]);
    expect(() => conv3dForward(x, w, null, { padding: 1 })).toThrow(/input \[1, 3, 4, 4, 4\] has 3 channels but weight \[2, 4, 3, 3, 3\] expects 4/);
    const w2 = e.zeros([2, 3, 3, 3, 3]);
    expect(() => conv3dForward(e.zeros([1, 3, 2, 4, 4]), w2, null)).toThrow(/kernel \[3, 3, 3\] is larger than the padded input \[2, 4, 4\]/);
    expect(() => conv3dForward(x, w2, e.zeros([3]), { padding: 1 })).toThrow(/bias \[3\] must have shape \[2\]/);
    expect(() => conv3dForward(e.zeros([3, 4, 4, 4]), w2, null)).toThrow(/rank 5/);
    expect(() => conv3dForward(e.zeros([1, 3, 4, 4, 4], 'i32'), w2, null)).toThrow(/dtype i32/);
    expect(() => conv3dBackwardInput(e.zeros([1, 2, 3, 3, 3]), w2, [1, 3, 4, 4, 4], { padding: 1 })).toThrow(
      /dy \[1, 2, 3, 3, 3\] does not match the output shape \[1, 2, 4, 4, 4\]/,
    );
    expect(() => conv3dBackwardWeight(e.zeros([1, 2, 4, 4, 4]), x, [2, 3, 3, 3, 3], { stride: 3 })).toThrow(/does not match/);
    expect(() => conv3dForward(x, w2, null, { stride: [1, 2] })).toThrow(/stride must be an integer or three integers/);
  });
});

// ---- PyTorch fixtures (shared/fixtures/torch/ops.npz) ----
const fixturePath = resolve(process.cwd(), '../shared/fixtures/torch/ops.npz');

describe.skipIf(!existsSync(fixturePath))('conv3d against the PyTorch fixtures', () => {
  for (const name of ['conv3d_k3s1p1', 'conv3d_k3s2p1', 'conv3d_k1s2p0', 'conv3d_k1s1p0_bias', 'conv3d_k3s1p1_bias']) {
    it(`${name}: y, dx, dw${name.endsWith('bias') ? ', db' : ''} within 1e-4`, async () => {
      const z = readNpzFile(fixturePath);
      const get = (k: string) => {
        const a = z.get(`${name}.${k}`);
        if (!a) throw new Error(`fixture ${name}.${k} missing`);
        return a;
      };
      const f32 = (k: string) => Float32Array.from(get(k).data as Float64Array);
      const e = await getEngine();
      const hasBias = z.has(`${name}.b`);
      const stride = Number(get('stride').big?.[0] ?? (get('stride').data as ArrayLike<number>)[0]);
      const padding = Number(get('pad').big?.[0] ?? (get('pad').data as ArrayLike<number>)[0]);
      const xs = get('x').shape;
      const ws = get('w').shape;
      const xt = e.tensor(f32('x'), xs);
      const wt = e.tensor(f32('w'), ws);
      const bt = hasBias ? e.tensor(f32('b'), get('b').shape) : null;
      const dyt = e.tensor(f32('dy'), get('dy').shape);
      const opts = { stride, padding };
      const ref = (k: string) => get(k).data as Float64Array;
      expect(relErr(await read(conv3dForward(xt, wt, bt, opts)), ref('y'))).toBeLessThan(1e-4);
      expect(relErr(await read(conv3dBackwardInput(dyt, wt, xs, opts)), ref('dx'))).toBeLessThan(1e-4);
      expect(relErr(await read(conv3dBackwardWeight(dyt, xt, ws, opts)), ref('dw'))).toBeLessThan(1e-4);
      if (hasBias) expect(relErr(await read(conv3dBackwardBias(dyt)), ref('db'))).toBeLessThan(1e-4);
    });
  }
});
