// The explicit im2col + GEMM path of conv3d (kernels/conv3d_im2col.ts), forced through the public entry points and
// the explicit-variant ones, against the float64 references: f32 (‖·‖ relative error < 1e-5) and, where the adapter
// has shader-f16, mixed precision (f16 x/dy/y/dx, f32 w/bias/dw; < 1e-3 for f16 outputs, whose one final rounding
// is ≤ 2^-11 relative per element — see conv3d_f16.test.ts). Odd sizes, stride 1 and 2, padding, bias, batch 2;
// outputs come from a poisoned pool so an unwritten element fails.
import { afterEach, describe, expect, it } from 'vitest';
import {
  conv3dBackwardInput,
  conv3dBackwardInputWith,
  conv3dBackwardWeight,
  conv3dForward,
  conv3dGeometry,
  directCandidates,
  tuneConv3d,
} from '../../kernels/conv3d.js';
import { IM2COL_MAX_BYTES, IM2COL_MAX_POSITIONS, im2colBytes, im2colOffered } from '../../kernels/conv3d_im2col.js';
import { clearTuneCache, forceVariant, tuneRecords } from '../../kernels/autotune.js';
import { roundF16 } from '../../src/tensor/f16.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { convOutShape, poisonPool, refConv3d, refConv3dDw, refConv3dDx, size, type ConvCase } from './conv-ref.js';

const read = async (t: Tensor) => (await t.read()) as Float32Array;


type Case = ConvCase;

const CASES: Case[] = [
  { xs: [2, 3, 7, 6, 9], ws: [5, 3, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1], bias: true },
  { xs: [2, 4, 9, 8, 11], ws: [6, 4, 3, 3, 3], s: [2, 2, 2], p: [1, 1, 1], bias: true },
  { xs: [1, 5, 7, 8, 9], ws: [7, 5, 3, 2, 1], s: [1, 2, 2], p: [1, 0, 0] },
  { xs: [2, 3, 8, 7, 9], ws: [7, 3, 2, 2, 2], s: [2, 2, 2], p: [0, 0, 0] },
  { xs: [1, 9, 5, 5, 5], ws: [11, 9, 3, 3, 3], s: [1, 1, 1], p: [1, 1, 1], bias: true },
  // Kernels wider than 3, padding 2 next to 0, mixed strides (the compile-time gather and col2im geometry).
  { xs: [2, 2, 6, 9, 7], ws: [3, 2, 5, 3, 4], s: [1, 2, 2], p: [2, 1, 0], bias: true },
];

const label = (c: Case) => `x${c.xs.join('x')} w${c.ws.join('x')} s${c.s.join('')} p${c.p.join('')}${c.bias ? ' +bias' : ''}`;

afterEach(() => {
  for (const k of ['conv3d.fwd', 'conv3d.dgrad', 'conv3d.wgrad']) forceVariant(k, null);
});

describe('conv3d im2col + GEMM path', async () => {
  const e = await getEngine();

  for (const dtype of ['f32', 'f16'] as const) {
    const tol = dtype === 'f16' ? 1e-3 : 1e-5;
    const act = (n: number, seed: number) => Float64Array.from(randArray(n, seed), dtype === 'f16' ? roundF16 : Math.fround);
    for (const [ci, c] of CASES.entries()) {
      it.skipIf(dtype === 'f16' && !e.gpu.hasF16)(`${dtype}: forward, input gradient, weight gradient, ${label(c)}`, async () => {
        forceVariant('conv3d.fwd', 'im2col');
        forceVariant('conv3d.dgrad', 'im2col');
        forceVariant('conv3d.wgrad', 'wim2col');
        const x = act(size(c.xs), 10 + ci);
        const w = Float64Array.from(randArray(size(c.ws), 20 + ci), Math.fround);
        const b = c.bias ? Float64Array.from(randArray(c.ws[0], 30 + ci), Math.fround) : null;
        const ys = convOutShape(c.xs, c.ws, c.s, c.p);
        const dy = act(size(ys), 40 + ci);
        const xt = e.tensor(x, c.xs, dtype);
        const wt = e.tensor(w, c.ws);
        const bt = b ? e.tensor(b, [c.ws[0]]) : null;
        const dyt = e.tensor(dy, ys, dtype);
        const opts = { stride: c.s, padding: c.p };

        poisonPool(e, ys, dtype);
        const y = conv3dForward(xt, wt, bt, opts);
        expect(y.dtype).toBe(dtype);
        expect(y.shape).toEqual(ys);
        expect(relErr(await read(y), refConv3d(x, c.xs, w, c.ws, b, c.s, c.p)), 'forward').toBeLessThan(tol);

        poisonPool(e, c.xs, dtype);
        const dx = conv3dBackwardInput(dyt, wt, c.xs, opts);
        expect(dx.dtype).toBe(dtype);
        expect(dx.shape).toEqual(c.xs);
        expect(relErr(await read(dx), refConv3dDx(dy, w, c.ws, c.xs, c.s, c.p)), 'input gradient').toBeLessThan(tol);

        poisonPool(e, c.ws, 'f32');
        const dw = conv3dBackwardWeight(dyt, xt, c.ws, opts);
        expect(dw.dtype).toBe('f32');
        expect(relErr(await read(dw), refConv3dDw(dy, x, c.xs, c.ws, c.s, c.p)), 'weight gradient').toBeLessThan(1e-5);
        for (const t of [xt, wt, dyt, y, dx, dw]) t.dispose();
        bt?.dispose();
      });
    }

    it.skipIf(dtype === 'f16' && !e.gpu.hasF16)(`${dtype}: input gradient with a per-input-channel bias (the convTranspose3d forward)`, async () => {
      const c: Case = { xs: [2, 6, 5, 7, 6], ws: [4, 6, 3, 3, 3], s: [2, 1, 2], p: [1, 1, 1] };
      const w = Float64Array.from(randArray(size(c.ws), 51), Math.fround);
      const ob = Float64Array.from(randArray(c.xs[1], 52), Math.fround);
      const ys = convOutShape(c.xs, c.ws, c.s, c.p);
      const dy = act(size(ys), 53);
      const [wt, obt, dyt] = [e.tensor(w, c.ws), e.tensor(ob, [c.xs[1]]), e.tensor(dy, ys, dtype)];
      const ref = refConv3dDx(dy, w, c.ws, c.xs, c.s, c.p);
      const vol = size(c.xs.slice(2));
      for (let i = 0; i < ref.length; i++) ref[i] += ob[Math.floor(i / vol) % c.xs[1]];
      poisonPool(e, c.xs, dtype);
      const dx = conv3dBackwardInputWith(dyt, wt, c.xs, { stride: c.s, padding: c.p }, { kind: 'im2col', tm: 4, tn: 4 }, obt);
      expect(relErr(await read(dx), ref)).toBeLessThan(tol);
      for (const t of [wt, obt, dyt, dx]) t.dispose();
    });
  }

  it('is offered to the tuner only for small column matrices of multi-tap convs, and the tuner times it', async () => {
    // DynUNet at bench size 24: the 4³ × 320 level fits (2.2 MB), the 24³ × 32 top level does not (47.8 MB), and
    // 12³ × 64 fits in memory (11.9 MB) with 1728 positions per sample.
    const deep = conv3dGeometry([1, 320, 4, 4, 4], [320, 320, 3, 3, 3], { padding: 1 });
    const top = conv3dGeometry([1, 32, 24, 24, 24], [32, 32, 3, 3, 3], { padding: 1 });
    const mid = conv3dGeometry([1, 64, 12, 12, 12], [64, 64, 3, 3, 3], { padding: 1 });
    expect(im2colBytes(deep)).toBe(320 * 27 * 64 * 4);
    expect(im2colOffered(deep)).toBe(true);
    expect(im2colBytes(top)).toBeGreaterThan(IM2COL_MAX_BYTES);
    expect(im2colOffered(top)).toBe(false);
    expect(im2colBytes(mid)).toBeLessThanOrEqual(IM2COL_MAX_BYTES);
    // Past 512 positions per sample: multi-tap kernels with ≥ 16 input channels (the strided 24³ → 12³ level,
    // 12³ × 64), never past the byte limit; never 1×1 or single-channel convs.
    expect(12 ** 3).toBeGreaterThan(IM2COL_MAX_POSITIONS);
    expect(im2colOffered(mid)).toBe(true);
    expect(im2colOffered(conv3dGeometry([1, 32, 24, 24, 24], [64, 32, 3, 3, 3], { padding: 1, stride: 2 }))).toBe(true);
    expect(im2colOffered(conv3dGeometry([1, 32, 24, 24, 24], [64, 32, 1, 1, 1], { stride: 2 }))).toBe(false);
    expect(im2colOffered(conv3dGeometry([1, 1, 24, 24, 24], [32, 1, 3, 3, 3], { padding: 1 }))).toBe(false);
    expect(im2colOffered(conv3dGeometry([1, 8, 12, 12, 12], [16, 8, 3, 3, 3], { padding: 1 }))).toBe(false);
    expect(directCandidates(e, 64, 320).map((v) => v.name)).not.toContain('im2col');
    expect(directCandidates(e, 64, 320, true).map((v) => v.name)).toContain('im2col');

    clearTuneCache();
    await tuneConv3d(e, [1, 4, 5, 5, 5], [6, 4, 3, 3, 3], { padding: 1 });
    const recs = tuneRecords();
    for (const [kernel, name] of [['conv3d.fwd', 'im2col'], ['conv3d.dgrad', 'im2col'], ['conv3d.wgrad', 'wim2col']]) {
      const r = recs.find((x) => x.kernel === kernel);
      expect(r, kernel).toBeDefined();
      expect(r!.times[name], `${kernel} ${name}`).toBeGreaterThan(0);
      expect(Number.isFinite(r!.times[name])).toBe(true);
    }
    clearTuneCache();
  }, 300_000);
});
