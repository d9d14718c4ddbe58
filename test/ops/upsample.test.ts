import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/index.js';
import { upsample } from '../../src/ops/upsample.js';
import { axisTable, upsampleGeometry, type UpsampleMode } from '../../kernels/upsample.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { leaf, numericGrad, poisonNext } from './ref.js';

/** float64 reference: separable interpolation with the same PyTorch index rules, written independently per voxel. */
function upRef(x: ArrayLike<number>, shape: number[], outs: number[], scales: number[], mode: UpsampleMode): Float64Array {
  const [N, C, D, H, W] = shape;
  const [Do, Ho, Wo] = outs;
  const y = new Float64Array(N * C * Do * Ho * Wo);
  const coords = (o: number, lin: number, s: number): Array<[number, number]> => {
    if (mode === 'nearest') return [[Math.min(Math.floor(o * s), lin - 1), 1]];
    const src = Math.max(s * (o + 0.5) - 0.5, 0);
    const i0 = Math.floor(src);
    const i1 = Math.min(i0 + 1, lin - 1);
    return [[i0, 1 - (src - i0)], [i1, src - i0]];
  };
  for (let pl = 0; pl < N * C; pl++) {
    for (let z = 0; z < Do; z++) for (let yy = 0; yy < Ho; yy++) for (let xx = 0; xx < Wo; xx++) {
      let s = 0;
      for (const [d, wd] of coords(z, D, scales[0])) for (const [h, wh] of coords(yy, H, scales[1])) for (const [w, ww] of coords(xx, W, scales[2])) {
        s += wd * wh * ww * x[((pl * D + d) * H + h) * W + w];
      }
      y[((pl * Do + z) * Ho + yy) * Wo + xx] = s;
    }
  }
  return y;
}

describe('upsample', () => {
  it('follows PyTorch align_corners=False on a known case', () => {
    // F.interpolate([0, 1], size 4, linear): [0, 0.25, 0.75, 1]; nearest ×2: [0, 0, 1, 1]
    const t = axisTable('trilinear', 2, 4, 0.5);
    const v = [0, 1];
    expect(t.map(([a, b, l]) => v[a] * (1 - l) + v[b] * l)).toEqual([0, 0.25, 0.75, 1]);
    expect(axisTable('nearest', 2, 4, 0.5).map(([a]) => v[a])).toEqual([0, 0, 1, 1]);
    // downsampling 5 → 2 with nearest picks floor(o·2.5): 0, 2
    expect(axisTable('nearest', 5, 2, 2.5).map(([a]) => a)).toEqual([0, 2]);
  });

  for (const mode of ['nearest', 'trilinear'] as const) {
    for (const [shape, opt] of [
      [[1, 2, 3, 4, 5], { scaleFactor: 2 }],
      [[2, 1, 5, 3, 4], { size: [7, 5, 2] }],
      [[1, 3, 2, 2, 3], { scaleFactor: [1.5, 3, 1] }],
    ] as const) {
      it(`${mode} ${JSON.stringify(shape)} ${JSON.stringify(opt)}: forward and gradient`, async () => {
        const e = await getEngine();
        const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
        const xs = randArray(n, 3, -2, 2);
        const g = upsampleGeometry(shape, 'size' in opt ? opt.size : undefined, 'scaleFactor' in opt ? opt.scaleFactor : undefined);
        const x = leaf(e, xs, [...shape]);
        poisonNext(e, [shape[0], shape[1], ...g.outs]);
        const y = upsample(x, { mode, ...opt });
        expect(y.shape).toEqual([shape[0], shape[1], ...g.outs]);
        const ref = (v: ArrayLike<number>) => upRef(v, [...shape], g.outs, g.scales, mode);
        expect(relErr(await y.read(), ref(xs))).toBeLessThan(1e-6);
        const gys = randArray(y.size, 4);
        poisonNext(e, [...shape]);
        backward(y, e.tensor(gys, y.shape));
        expect(relErr(await x.grad!.read(), numericGrad(ref, Float64Array.from(xs), gys))).toBeLessThan(1e-5);
      });
    }
  }

  it('rejects bad sizes', async () => {
    const e = await getEngine();
    expect(() => upsample(e.zeros([1, 1, 2, 2]), { scaleFactor: 2 })).toThrow(/\[N, C, D, H, W\], got \[1, 1, 2, 2\]/);
    expect(() => upsample(e.zeros([1, 1, 2, 2, 2]), { size: [2, 0, 2] })).toThrow(/three positive integers/);
  });
});
