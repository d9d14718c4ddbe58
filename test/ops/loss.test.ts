import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/index.js';
import { diceBceLoss, mseLoss } from '../../src/ops/loss.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { fixture } from './fixtures.js';
import { leaf, numericGrad, sigmoid64 } from './ref.js';

function diceBceRef(x: ArrayLike<number>, g: ArrayLike<number>, units: number): number {
  const seg = x.length / units;
  let dice = 0;
  let bce = 0;
  for (let u = 0; u < units; u++) {
    let I = 0, P = 0, G = 0;
    for (let i = u * seg; i < (u + 1) * seg; i++) {
      const p = sigmoid64(x[i]);
      I += p * g[i];
      P += p * p;
      G += g[i] * g[i];
      bce += Math.max(x[i], 0) - x[i] * g[i] + Math.log1p(Math.exp(-Math.abs(x[i])));
    }
    dice += 1 - (2 * I + 1e-5) / (G + P + 1e-5);
  }
  return 0.9 * (dice / units) + 0.1 * (bce / x.length);
}

const mseRef = (x: ArrayLike<number>, g: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - g[i]) ** 2;
  return s / x.length;
};

describe('losses', () => {
  it('Dice+BCE matches PyTorch (MONAI DiceCELoss settings of vesselFM)', async () => {
    const e = await getEngine();
    const x = fixture('dice_ce_loss.logit');
    const t = fixture('dice_ce_loss.target');
    const xt = leaf(e, x.data, x.shape);
    const loss = diceBceLoss(xt, e.tensor(t.data, t.shape));
    expect(loss.shape).toEqual([]);
    backward(loss);
    expect(relErr([await loss.item()], fixture('dice_ce_loss.loss').data)).toBeLessThan(1e-5);
    expect(relErr(await xt.grad!.read(), fixture('dice_ce_loss.dlogit').data)).toBeLessThan(1e-4);
  });

  it('MSE matches PyTorch', async () => {
    const e = await getEngine();
    const p = fixture('mse_loss.pred');
    const pt = leaf(e, p.data, p.shape);
    const loss = mseLoss(pt, e.tensor(fixture('mse_loss.target').data, p.shape));
    backward(loss);
    expect(relErr([await loss.item()], fixture('mse_loss.loss').data)).toBeLessThan(1e-5);
    expect(relErr(await pt.grad!.read(), fixture('mse_loss.dpred').data)).toBeLessThan(1e-4);
  });

  for (const [shape, seed] of [
    [[3, 1, 5, 7, 3], 1],
    [[2, 2, 9], 2],
    [[1, 1, 13, 11, 9], 3],
  ] as const) {
    it(`Dice+BCE and MSE gradients match float64 finite differences at ${JSON.stringify(shape)}`, async () => {
      const e = await getEngine();
      const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
      const units = shape[0] * shape[1];
      const xs = randArray(n, seed, -4, 4);
      const gs = Array.from(randArray(n, seed + 1, 0, 1), (v) => (v > 0.7 ? 1 : 0));
      const soft = randArray(n, seed + 2, -1, 1);
      const x = leaf(e, xs, [...shape]);
      const l = diceBceLoss(x, e.tensor(gs, [...shape]));
      // a non-unit upstream gradient: backward from 2.5·loss via an explicit gradient
      backward(l, e.tensor([2.5], []));
      expect(relErr([await l.item()], [diceBceRef(xs, gs, units)])).toBeLessThan(1e-5);
      const num = numericGrad((v) => [diceBceRef(v, gs, units)], Float64Array.from(xs), [2.5], 1e-5);
      expect(relErr(await x.grad!.read(), num)).toBeLessThan(1e-4);

      const p = leaf(e, xs, [...shape]);
      const t = leaf(e, soft, [...shape]);
      const m = mseLoss(p, t);
      backward(m);
      expect(relErr([await m.item()], [mseRef(xs, soft)])).toBeLessThan(1e-5);
      expect(relErr(await p.grad!.read(), numericGrad((v) => [mseRef(v, soft)], Float64Array.from(xs), [1]))).toBeLessThan(1e-5);
      expect(relErr(await t.grad!.read(), numericGrad((v) => [mseRef(xs, v)], Float64Array.from(soft), [1]))).toBeLessThan(1e-5);
    });
  }

  it('stays finite for extreme logits and rejects mismatched shapes', async () => {
    const e = await getEngine();
    const xs = [-200, -50, 0, 50, 200, 90];
    const gs = [0, 1, 1, 0, 1, 1];
    const l = await diceBceLoss(e.tensor(xs, [1, 1, 6]), e.tensor(gs, [1, 1, 6])).item();
    expect(relErr([l], [diceBceRef(xs, gs, 1)])).toBeLessThan(1e-5);
    expect(() => diceBceLoss(e.zeros([1, 1, 6]), e.zeros([1, 1, 5]))).toThrow(/\[1, 1, 6\] and target \[1, 1, 5\]/);
  });
});
