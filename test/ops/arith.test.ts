import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/index.js';
import { add, cast, mean, mul, reshape, sub, sum } from '../../src/ops/arith.js';
import { concat, split, transpose } from '../../src/ops/shape.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { leaf, numericGrad } from './ref.js';

/** float64 broadcast of a binary op (NumPy rules). */
function bcast(f: (x: number, y: number) => number, a: ArrayLike<number>, sa: number[], b: ArrayLike<number>, sb: number[]): { y: Float64Array; shape: number[] } {
  const n = Math.max(sa.length, sb.length);
  const pa = [...Array(n - sa.length).fill(1), ...sa];
  const pb = [...Array(n - sb.length).fill(1), ...sb];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const size = shape.reduce((x, y) => x * y, 1);
  const y = new Float64Array(size);
  const idx = (p: number[], coord: number[]) => coord.reduce((acc, c, i) => acc * p[i] + (p[i] === 1 ? 0 : c), 0);
  for (let i = 0; i < size; i++) {
    const coord: number[] = [];
    let r = i;
    for (let d = n - 1; d >= 0; d--) {
      coord[d] = r % shape[d];
      r = Math.floor(r / shape[d]);
    }
    y[i] = f(a[idx(pa, coord)], b[idx(pb, coord)]);
  }
  return { y, shape };
}

describe('broadcast arithmetic and layout ops', () => {
  const OPS = { add: [add, (x: number, y: number) => x + y], sub: [sub, (x: number, y: number) => x - y], mul: [mul, (x: number, y: number) => x * y] } as const;
  for (const [name, [op, f]] of Object.entries(OPS)) {
    for (const [sa, sb] of [
      [[2, 3, 5], [3, 1]],
      [[7], [4, 1, 7]],
      [[3, 1, 4], [1, 5, 1]],
      [[2, 3], [2, 3]],
    ]) {
      it(`${name} ${JSON.stringify(sa)} ∘ ${JSON.stringify(sb)}: values and summed broadcast gradients`, async () => {
        const e = await getEngine();
        const as = randArray(sa.reduce((x, y) => x * y, 1), 1);
        const bs = randArray(sb.reduce((x, y) => x * y, 1), 2);
        const a = leaf(e, as, sa);
        const b = leaf(e, bs, sb);
        const y = op(a, b);
        const ref = bcast(f, as, sa, bs, sb);
        expect(y.shape).toEqual(ref.shape);
        const gys = randArray(ref.y.length, 3);
        backward(y, e.tensor(gys, y.shape));
        expect(relErr(await y.read(), ref.y)).toBeLessThan(1e-6);
        expect(relErr(await a.grad!.read(), numericGrad((v) => bcast(f, v, sa, bs, sb).y, Float64Array.from(as), gys))).toBeLessThan(1e-5);
        expect(relErr(await b.grad!.read(), numericGrad((v) => bcast(f, as, sa, v, sb).y, Float64Array.from(bs), gys))).toBeLessThan(1e-5);
      });
    }
  }

  it('scalar operands, reshape and cast carry gradients', async () => {
    const e = await getEngine();
    const xs = randArray(12, 4);
    const x = leaf(e, xs, [3, 4]);
    const y = reshape(mul(sub(add(x, 2), 0.5), 3), [2, 6]);
    expect(y.shape).toEqual([2, 6]);
    backward(y, e.ones([2, 6]));
    expect(relErr(await x.grad!.read(), Array(12).fill(3))).toBeLessThan(1e-7);
    if (e.gpu.hasF16) {
      const z = leaf(e, xs, [12]);
      const h = cast(z, 'f16');
      expect(h.dtype).toBe('f16');
      const back = cast(mul(h, h), 'f32');
      backward(back, e.ones([12]));
      expect(z.grad!.dtype).toBe('f32');
      expect(relErr(await z.grad!.read(), Array.from(xs, (v) => 2 * v))).toBeLessThan(2e-3);
    }
  });

  it('sum and mean over axes carry gradients back to every element', async () => {
    const e = await getEngine();
    const xs = randArray(2 * 3 * 5, 9);
    const x = leaf(e, xs, [2, 3, 5]);
    const s = sum(x, [0, 2]);
    expect(s.shape).toEqual([3]);
    const gs = [0.5, -1, 2];
    backward(s, e.tensor(gs, [3]));
    const g = await x.grad!.read();
    for (let i = 0; i < 30; i++) expect(g[i]).toBeCloseTo(gs[Math.floor(i / 5) % 3], 6);
    const x2 = leaf(e, xs, [2, 3, 5]);
    const mu = mean(x2);
    expect(relErr([await mu.item()], [xs.reduce((a, b) => a + b, 0) / 30])).toBeLessThan(1e-6);
    backward(mul(mu, 3));
    expect(relErr(await x2.grad!.read(), Array(30).fill(3 / 30))).toBeLessThan(1e-6);
    const k = mean(x2, -1, true);
    expect(k.shape).toEqual([2, 3, 1]);
  });

  it('concat, split and transpose: gradients route back to each piece', async () => {
    const e = await getEngine();
    const as = randArray(2 * 3 * 5, 5);
    const bs = randArray(2 * 2 * 5, 6);
    const a = leaf(e, as, [2, 3, 5]);
    const b = leaf(e, bs, [2, 2, 5]);
    const c = concat([a, b], 1);
    expect(c.shape).toEqual([2, 5, 5]);
    const [p, q] = split(c, [4, 1], 1);
    expect(q.shape).toEqual([2, 1, 5]);
    const t = transpose(p, [2, 0, 1]);
    expect(t.shape).toEqual([5, 2, 4]);
    // gradient only through p (transposed); q receives none and contributes zeros
    const gys = randArray(40, 7);
    backward(t, e.tensor(gys, t.shape));
    // d/dp = transpose back of gys: p[n, ch, w] gets gys[w, n, ch]
    const gp = new Float64Array(2 * 4 * 5);
    for (let n = 0; n < 2; n++) for (let ch = 0; ch < 4; ch++) for (let w = 0; w < 5; w++) gp[(n * 4 + ch) * 5 + w] = gys[(w * 2 + n) * 4 + ch];
    const ga = await a.grad!.read();
    const gb = await b.grad!.read();
    for (let n = 0; n < 2; n++) {
      for (let w = 0; w < 5; w++) {
        for (let ch = 0; ch < 3; ch++) expect(ga[(n * 3 + ch) * 5 + w]).toBeCloseTo(gp[(n * 4 + ch) * 5 + w], 6);
        expect(gb[(n * 2 + 0) * 5 + w]).toBeCloseTo(gp[(n * 4 + 3) * 5 + w], 6);
        expect(gb[(n * 2 + 1) * 5 + w]).toBe(0);
      }
    }
    expect(() => split(c, [2, 2], 1)).toThrow(/do not partition axis 1 of \[2, 5, 5\]/);
  });
});
