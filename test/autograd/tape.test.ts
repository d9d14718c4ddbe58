import { describe, expect, it } from 'vitest';
import { backward, runBackward, checkpoint, noGrad, noGradAsync, isGradEnabled, zeroGrad, assertFinite } from '../../src/autograd/index.js';
import { leakyRelu, sigmoid, silu } from '../../src/ops/activation.js';
import { groupNorm } from '../../src/ops/norm.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { leaf, sigmoid64 } from '../ops/ref.js';

const siluRef = (v: number) => v * sigmoid64(v);
const dsilu = (v: number) => sigmoid64(v) * (1 + v * (1 - sigmoid64(v)));

describe('autograd tape', () => {
  it('backpropagates through a chain and accumulates leaf gradients across calls', async () => {
    const e = await getEngine();
    const xs = randArray(37, 1, -3, 3);
    const gs = randArray(37, 2);
    const x = leaf(e, xs, [37]);
    const gy = e.tensor(gs, [37]);
    // z = sigmoid(silu(x)); dz/dx = σ'(silu(x))·silu'(x)
    const ref = Array.from(xs, (v, i) => {
      const s = sigmoid64(siluRef(v));
      return gs[i] * s * (1 - s) * dsilu(v);
    });
    backward(sigmoid(silu(x)), gy);
    expect(relErr(await x.grad!.read(), ref)).toBeLessThan(1e-5);
    backward(sigmoid(silu(x)), gy);
    expect(relErr(await x.grad!.read(), ref.map((v) => 2 * v))).toBeLessThan(1e-5);
    zeroGrad([x]);
    expect(x.grad).toBeNull();
    // A tensor used twice gets the sum of both paths: y = silu(x) feeds two sigmoids.
    const y = silu(x);
    backward(sigmoid(y), gy);
    expect(() => backward(sigmoid(y), gy)).toThrow(/already freed.*retainGraph/);
    zeroGrad([x]);
    gy.dispose();
    x.dispose();
  });

  it('rejects a non-scalar backward without a gradient, naming the shape', async () => {
    const e = await getEngine();
    const x = leaf(e, randArray(6, 3), [2, 3]);
    const y = silu(x);
    expect(() => backward(y)).toThrow(/shape \[2, 3\] \(6 elements\)/);
    const c = e.tensor([1], []);
    expect(() => backward(c)).toThrow(/does not require grad/);
    noGrad(() => {
      const z = silu(x);
      expect(z.requiresGrad).toBe(false);
      expect(z.node).toBeNull();
    });
    const z = await noGradAsync(async () => {
      await e.sync();
      expect(isGradEnabled()).toBe(false);
      return silu(x);
    });
    expect(z.requiresGrad).toBe(false);
    expect(isGradEnabled()).toBe(true);
    expect(() => noGrad(() => Promise.resolve(1))).toThrow(/must be synchronous/);
    x.dispose();
    y.dispose();
    c.dispose();
    z.dispose();
  });

  it('releases saved tensors and intermediate gradients during backward', async () => {
    const e = await getEngine();
    const x = leaf(e, randArray(1000, 4), [10, 100]);
    const gy = e.tensor(randArray(1000, 5), [10, 100]);
    const before = e.liveTensors;
    e.scope(() => {
      const y = leakyRelu(silu(sigmoid(x)));
      // three nodes, each with a saved view: 3 outputs + 3 saved views
      expect(e.liveTensors).toBe(before + 6);
      backward(y, gy);
      // saved views released, only the outputs (scope) and x.grad remain
      expect(e.liveTensors).toBe(before + 3 + 1);
    });
    expect(e.liveTensors).toBe(before + 1);
    zeroGrad([x]);
    expect(e.liveTensors).toBe(before);
    x.dispose();
    gy.dispose();
  });

  it('checkpointing gives identical gradients with a lower peak of pooled memory', async () => {
    const e = await getEngine();
    const n = 64 * 1024;
    const xs = randArray(n, 6, -2, 2);
    const gs = randArray(n, 7);
    const block = (t: import('../../src/tensor/tensor.js').Tensor) => silu(leakyRelu(silu(sigmoid(silu(t)))));
    const run = async (ckpt: boolean) => {
      const x = leaf(e, xs, [n]);
      const gy = e.tensor(gs, [n]);
      await e.sync();
      e.rt.pool.resetPeak();
      const base = e.rt.pool.stats.inUseBytes;
      e.scope(() => {
        let h = x;
        for (let i = 0; i < 6; i++) h = ckpt ? checkpoint(block, [h]) : block(h);
        backward(h, gy);
      });
      const peak = e.rt.pool.stats.peakInUseBytes - base;
      const g = await x.grad!.read();
      x.grad!.dispose();
      x.dispose();
      gy.dispose();
      return { g: Float32Array.from(g), peak };
    };
    const plain = await run(false);
    const ck = await run(true);
    expect(relErr(ck.g, plain.g)).toBe(0);
    expect(ck.peak).toBeLessThan(plain.peak / 2);
  });

  it('checkpointing reaches parameters used inside the block, even when its input needs no gradient', async () => {
    const e = await getEngine();
    const C = 4;
    const xs = randArray(2 * C * 30, 8, -2, 2);
    const gs = randArray(2 * C * 30, 9);
    const run = async (ckpt: boolean) => {
      const w = leaf(e, randArray(C, 10, 0.5, 1.5), [C]);
      const b = leaf(e, randArray(C, 11), [C]);
      const x = e.tensor(xs, [2, C, 30]);
      const block = (t: import('../../src/tensor/tensor.js').Tensor) => silu(groupNorm(t, 2, w, b));
      e.scope(() => backward(ckpt ? checkpoint(block, [x]) : block(x), e.tensor(gs, [2, C, 30])));
      const r = [Float32Array.from(await w.grad!.read()), Float32Array.from(await b.grad!.read())];
      for (const t of [w, b, x, w.grad!, b.grad!]) t.dispose();
      return r;
    };
    // a block that passes one input through untouched keeps that input a leaf
    const a = leaf(e, [1, 2, 3], [3]);
    const [a2, s2] = checkpoint((t) => [t, silu(t)], [a]);
    expect(a2).not.toBe(a);
    expect(a.node).toBeNull();
    runBackward([a2, s2], [e.ones([3]), e.ones([3])]);
    expect(relErr(await a.grad!.read(), [1, 2, 3].map((v) => 1 + dsilu(v)))).toBeLessThan(1e-6);
    const [pw, pb] = await run(false);
    const [cw, cb] = await run(true);
    expect(relErr(cw, pw)).toBe(0);
    expect(relErr(cb, pb)).toBe(0);
  });

  it('names the step and the tensor when the loss is not finite', async () => {
    const e = await getEngine();
    const l = e.tensor([NaN], []);
    await expect(assertFinite(l, 17, 'dice_bce')).rejects.toThrow('non-finite loss at step 17 in dice_bce');
    await expect(assertFinite(Infinity, 3)).rejects.toThrow('non-finite loss at step 3 in loss');
    expect(await assertFinite(e.tensor([0.25], []), 1)).toBe(0.25);
  });
});
