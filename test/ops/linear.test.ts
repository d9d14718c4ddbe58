import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/index.js';
import { embedding } from '../../src/ops/embedding.js';
import { linear } from '../../src/ops/linear.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { fixture } from './fixtures.js';
import { leaf, numericGrad } from './ref.js';

function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, rows: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

describe('linear and embedding', () => {
  it('linear matches PyTorch', async () => {
    const e = await getEngine();
    const x = fixture('linear.x');
    const w = fixture('linear.w');
    const xt = leaf(e, x.data, x.shape);
    const wt = leaf(e, w.data, w.shape);
    const bt = leaf(e, fixture('linear.b').data, [w.shape[0]]);
    const y = linear(xt, wt, bt);
    backward(y, e.tensor(fixture('linear.dy').data, y.shape));
    expect(relErr(await y.read(), fixture('linear.y').data)).toBeLessThan(1e-5);
    expect(relErr(await xt.grad!.read(), fixture('linear.dx').data)).toBeLessThan(1e-5);
    expect(relErr(await wt.grad!.read(), fixture('linear.dw').data)).toBeLessThan(1e-5);
    expect(relErr(await bt.grad!.read(), fixture('linear.db').data)).toBeLessThan(1e-5);
  });

  for (const [lead, inF, outF, bias] of [
    [[2, 3], 7, 5, true],
    [[13], 1, 9, false],
    [[3, 1, 2], 11, 3, true],
  ] as const) {
    it(`linear gradients match finite differences: x ${JSON.stringify([...lead, inF])}, ${outF} outputs${bias ? ', bias' : ''}`, async () => {
      const e = await getEngine();
      const rows = (lead as readonly number[]).reduce((a, b) => a * b, 1);
      const xs = randArray(rows * inF, 1, -2, 2);
      const ws = randArray(outF * inF, 2);
      const bs = bias ? randArray(outF, 3) : null;
      const gys = randArray(rows * outF, 4);
      const x = leaf(e, xs, [...lead, inF]);
      const w = leaf(e, ws, [outF, inF]);
      const b = bs ? leaf(e, bs, [outF]) : null;
      const y = linear(x, w, b);
      expect(y.shape).toEqual([...lead, outF]);
      backward(y, e.tensor(gys, y.shape));
      expect(relErr(await y.read(), linearRef(xs, ws, bs, rows, inF, outF))).toBeLessThan(1e-5);
      expect(relErr(await x.grad!.read(), numericGrad((v) => linearRef(v, ws, bs, rows, inF, outF), Float64Array.from(xs), gys))).toBeLessThan(1e-5);
      expect(relErr(await w.grad!.read(), numericGrad((v) => linearRef(xs, v, bs, rows, inF, outF), Float64Array.from(ws), gys))).toBeLessThan(1e-5);
      if (b) expect(relErr(await b.grad!.read(), numericGrad((v) => linearRef(xs, ws, v, rows, inF, outF), Float64Array.from(bs!), gys))).toBeLessThan(1e-5);
    });
  }

  it('embedding looks up rows (negative index → zeros) and accumulates repeated rows in the gradient', async () => {
    const e = await getEngine();
    const rows = 7;
    const dim = 5;
    const ws = randArray(rows * dim, 5);
    const idx = [3, -1, 0, 3, 6, 3];
    const gys = randArray(idx.length * dim, 6);
    const w = leaf(e, ws, [rows, dim]);
    const y = embedding(w, e.tensor(idx, [2, 3], 'i32'));
    expect(y.shape).toEqual([2, 3, dim]);
    backward(y, e.tensor(gys, y.shape));
    const ref = (wv: ArrayLike<number>) => idx.flatMap((r) => Array.from({ length: dim }, (_, c) => (r < 0 ? 0 : wv[r * dim + c])));
    expect(relErr(await y.read(), ref(Float32Array.from(ws)))).toBe(0);
    expect(relErr(await w.grad!.read(), numericGrad(ref, Float64Array.from(ws), gys))).toBeLessThan(1e-6);
  });

  it('rejects mismatched shapes with the shapes in the message', async () => {
    const e = await getEngine();
    expect(() => linear(e.zeros([2, 4]), e.zeros([3, 5]))).toThrow(/input \[2, 4\] does not end in 5 features \(weight \[3, 5\]\)/);
    expect(() => embedding(e.zeros([3, 2]), e.zeros([4]))).toThrow(/indices \[4\] must be i32/);
  });
});
