import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/index.js';
import { conv3d } from '../../src/ops/conv.js';
import { convTranspose3d } from '../../src/ops/convtranspose.js';
import { getEngine, relErr } from '../helpers.js';
import { fixture, fixtureScalar } from './fixtures.js';
import { leaf } from './ref.js';

// The conv kernels are tested by their author; here the ops are checked end to end through autograd.
describe('conv ops through autograd', () => {
  for (const name of ['conv3d_k3s1p1', 'conv3d_k3s2p1', 'conv3d_k1s2p0', 'conv3d_k1s1p0_bias', 'conv3d_k3s1p1_bias']) {
    it(`matches PyTorch: ${name}`, async () => {
      const e = await getEngine();
      const x = fixture(`${name}.x`);
      const w = fixture(`${name}.w`);
      const hasBias = name.endsWith('bias');
      const xt = leaf(e, x.data, x.shape);
      const wt = leaf(e, w.data, w.shape);
      const bt = hasBias ? leaf(e, fixture(`${name}.b`).data, [w.shape[0]]) : null;
      const opts = { stride: fixtureScalar(`${name}.stride`), padding: fixtureScalar(`${name}.pad`) };
      const y = conv3d(xt, wt, bt, opts);
      const dy = fixture(`${name}.dy`);
      backward(y, e.tensor(dy.data, dy.shape));
      expect(y.shape).toEqual(dy.shape);
      expect(relErr(await y.read(), fixture(`${name}.y`).data)).toBeLessThan(1e-4);
      expect(relErr(await xt.grad!.read(), fixture(`${name}.dx`).data)).toBeLessThan(1e-4);
      expect(relErr(await wt.grad!.read(), fixture(`${name}.dw`).data)).toBeLessThan(1e-4);
      if (bt) expect(relErr(await bt.grad!.read(), fixture(`${name}.db`).data)).toBeLessThan(1e-4);
    });
  }

  it('matches PyTorch: convtranspose3d_k2s2', async () => {
    const e = await getEngine();
    const x = fixture('convtranspose3d_k2s2.x');
    const w = fixture('convtranspose3d_k2s2.w');
    const xt = leaf(e, x.data, x.shape);
    const wt = leaf(e, w.data, w.shape);
    const y = convTranspose3d(xt, wt, null, { stride: 2 });
    const dy = fixture('convtranspose3d_k2s2.dy');
    backward(y, e.tensor(dy.data, dy.shape));
    expect(relErr(await y.read(), fixture('convtranspose3d_k2s2.y').data)).toBeLessThan(1e-4);
    expect(relErr(await xt.grad!.read(), fixture('convtranspose3d_k2s2.dx').data)).toBeLessThan(1e-4);
    expect(relErr(await wt.grad!.read(), fixture('convtranspose3d_k2s2.dw').data)).toBeLessThan(1e-4);
  });

  it('mixed precision through autograd: f16 activations and gradients, f32 weight / bias gradients', async () => {
    const e = await getEngine();
    if (!e.gpu.hasF16) return;
    const name = 'conv3d_k3s2p1';
    const x = fixture(`${name}.x`);
    const w = fixture(`${name}.w`);
    const dy = fixture(`${name}.dy`);
    const xt = leaf(e, x.data, x.shape, 'f16');
    const wt = leaf(e, w.data, w.shape);
    const bt = leaf(e, Array.from({ length: w.shape[0] }, (_, i) => 0.1 * i - 0.2), [w.shape[0]]);
    const opts = { stride: fixtureScalar(`${name}.stride`), padding: fixtureScalar(`${name}.pad`) };
    const y = conv3d(xt, wt, bt, opts);
    expect(y.dtype).toBe('f16');
    backward(y, e.tensor(dy.data, dy.shape, 'f16'));
    expect(xt.grad!.dtype).toBe('f16');
    expect(wt.grad!.dtype).toBe('f32');
    expect(bt.grad!.dtype).toBe('f32');
    // Inputs rounded to f16 (the fixtures are f32 data), so the bound is f16's, not the f32 1e-4.
    expect(relErr(await xt.grad!.read(), fixture(`${name}.dx`).data)).toBeLessThan(3e-3);
    expect(relErr(await wt.grad!.read(), fixture(`${name}.dw`).data)).toBeLessThan(3e-3);
    const ct = convTranspose3d(leaf(e, x.data, x.shape, 'f16'), leaf(e, Array.from({ length: x.shape[1] * 2 * 8 }, (_, i) => ((i % 5) - 2) / 4), [x.shape[1], 2, 2, 2, 2]), null, { stride: 2 });
    expect(ct.dtype).toBe('f16');
  });

  it('only computes the gradients that are needed', async () => {
    const e = await getEngine();
    const x = e.ones([1, 2, 4, 4, 4]);
    const w = leaf(e, Array.from({ length: 2 * 2 * 27 }, (_, i) => (i % 7) - 3), [2, 2, 3, 3, 3]);
    const y = conv3d(x, w, null, { padding: 1 });
    backward(y, e.ones(y.shape));
    expect(x.grad).toBeNull();
    expect(w.grad!.shape).toEqual([2, 2, 3, 3, 3]);
  });
});
