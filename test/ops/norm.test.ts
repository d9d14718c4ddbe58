import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/index.js';
import { groupNorm, instanceNorm } from '../../src/ops/norm.js';
import type { Engine } from '../../src/engine.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { fixture } from './fixtures.js';
import { leaf, numericGrad } from './ref.js';

/** float64 group norm over x [N, C, S] with G groups, affine. */
function groupNormRef(x: ArrayLike<number>, N: number, C: number, S: number, G: number, w: ArrayLike<number>, b: ArrayLike<number>, eps = 1e-5): Float64Array {
  const y = new Float64Array(x.length);
  const M = (C / G) * S;
  for (let ng = 0; ng < N * G; ng++) {
    let m = 0;
    for (let i = 0; i < M; i++) m += x[ng * M + i];
    m /= M;
    let v = 0;
    for (let i = 0; i < M; i++) v += (x[ng * M + i] - m) ** 2;
    v /= M;
    const r = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < M; i++) {
      const c = ((ng % G) * M + i) / S | 0;
      y[ng * M + i] = (x[ng * M + i] - m) * r * w[c] + b[c];
    }
  }
  return y;
}

async function runNorm(e: Engine, xs: ArrayLike<number>, shape: number[], G: number, ws: ArrayLike<number>, bs: ArrayLike<number>, gys: ArrayLike<number>, dtype: 'f32' | 'f16' = 'f32') {
  const C = shape[1];
  const x = leaf(e, xs, shape, dtype);
  const w = leaf(e, ws, [C]);
  const b = leaf(e, bs, [C]);
  const y = G === C ? instanceNorm(x, w, b) : groupNorm(x, G, w, b);
  const gy = e.tensor(gys, shape, dtype);
  backward(y, gy);
  const out = { y: await y.read(), dx: await x.grad!.read(), dw: await w.grad!.read(), db: await b.grad!.read() };
  for (const t of [x, w, b, y, gy, x.grad!, w.grad!, b.grad!]) t.dispose();
  return out;
}

describe('group and instance norm', () => {
  for (const [name, G] of [['instancenorm3d', 0], ['groupnorm3d_g2', 2]] as const) {
    it(`matches PyTorch: ${name}`, async () => {
      const e = await getEngine();
      const x = fixture(`${name}.x`);
      const groups = G || x.shape[1];
      const r = await runNorm(e, x.data, x.shape, groups, fixture(`${name}.w`).data, fixture(`${name}.b`).data, fixture(`${name}.dy`).data);
      expect(relErr(r.y, fixture(`${name}.y`).data)).toBeLessThan(1e-4);
      expect(relErr(r.dx, fixture(`${name}.dx`).data)).toBeLessThan(1e-4);
      expect(relErr(r.dw, fixture(`${name}.dw`).data)).toBeLessThan(1e-4);
      expect(relErr(r.db, fixture(`${name}.db`).data)).toBeLessThan(1e-4);
    });
  }

  for (const [shape, G, seed] of [
    [[2, 6, 3, 5, 7], 3, 1],
    [[3, 4, 17], 4, 2],
    [[1, 8, 9, 11, 13], 2, 3],
    [[2, 3, 1, 1, 1], 3, 4],
    [[2, 4, 2, 3, 2], 2, 5],
    [[3, 6, 4, 4, 5], 6, 6],
  ] as const) {
    it(`matches float64 finite differences at ${JSON.stringify(shape)}, ${G} groups`, async () => {
      const e = await getEngine();
      const [N, C] = shape;
      const S = (shape.slice(2) as number[]).reduce((a, b) => a * b, 1);
      const n = N * C * S;
      const xs = randArray(n, seed, -2, 3);
      const ws = randArray(C, seed + 10, 0.5, 1.5);
      const bs = randArray(C, seed + 20);
      const gys = randArray(n, seed + 30);
      const r = await runNorm(e, xs, [...shape], G, ws, bs, gys);
      const yref = groupNormRef(xs, N, C, S, G, ws, bs);
      expect(relErr(r.y, yref)).toBeLessThan(1e-5);
      if (n <= 2000) {
        // S = 1 with one channel per group normalises to exactly beta: dx is (numerically) zero, so compare absolutely.
        const dx = numericGrad((v) => groupNormRef(v, N, C, S, G, ws, bs), Float64Array.from(xs), gys);
        expect(relErr(r.dx, dx)).toBeLessThan(S * (C / G) === 1 ? 1e-3 : 1e-4);
      }
      const dw = numericGrad((v) => groupNormRef(xs, N, C, S, G, v, bs), Float64Array.from(ws), gys);
      const db = numericGrad((v) => groupNormRef(xs, N, C, S, G, ws, v), Float64Array.from(bs), gys);
      expect(relErr(r.dw, dw)).toBeLessThan(1e-4);
      expect(relErr(r.db, db)).toBeLessThan(1e-4);
    });
  }

  it('keeps f32 statistics for f16 activations (large mean offset)', async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const shape = [2, 4, 6, 7, 5];
    const n = 2 * 4 * 210;
    // values near 100 with unit spread: naive f16 sums would lose the variance entirely
    const xs = Array.from(randArray(n, 9, -1, 1), (v) => Math.round((100 + v) * 16) / 16);
    const ws = randArray(4, 11, 0.5, 1.5);
    const bs = randArray(4, 12);
    const r = await runNorm(e, xs, shape, 4, ws, bs, randArray(n, 13), 'f16');
    expect(relErr(r.y, groupNormRef(xs, 2, 4, 210, 4, ws, bs))).toBeLessThan(2e-3);
  });

  it('rejects channel counts that do not split into the groups', async () => {
    const e = await getEngine();
    const x = e.zeros([1, 6, 4]);
    const w = e.ones([6]);
    const b = e.zeros([6]);
    expect(() => groupNorm(x, 4, w, b)).toThrow(/6 channels of \[1, 6, 4\] cannot be split into 4 groups/);
    expect(() => groupNorm(x, 3, e.ones([5]), b)).toThrow(/weight \[5\]/);
  });
});
