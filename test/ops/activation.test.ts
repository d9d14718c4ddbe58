import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/index.js';
import { leakyRelu, relu, sigmoid, silu } from '../../src/ops/activation.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { fixture } from './fixtures.js';
import { leaf, numericGrad, poisonNext, sigmoid64 } from './ref.js';

const OPS: Record<string, [(x: Tensor) => Tensor, (v: number) => number]> = {
  leakyrelu: [(x) => leakyRelu(x), (v) => (v > 0 ? v : 0.01 * v)],
  silu: [silu, (v) => v * sigmoid64(v)],
  sigmoid: [sigmoid, sigmoid64],
  relu: [relu, (v) => Math.max(v, 0)],
};

describe('activations', () => {
  for (const name of ['leakyrelu', 'silu', 'sigmoid']) {
    it(`matches PyTorch: ${name}`, async () => {
      const e = await getEngine();
      const x = fixture(`${name}.x`);
      const xt = leaf(e, x.data, x.shape);
      const y = OPS[name][0](xt);
      backward(y, e.tensor(fixture(`${name}.dy`).data, x.shape));
      expect(relErr(await y.read(), fixture(`${name}.y`).data)).toBeLessThan(1e-5);
      expect(relErr(await xt.grad!.read(), fixture(`${name}.dx`).data)).toBeLessThan(1e-5);
    });
  }

  for (const [name, [op, ref]] of Object.entries(OPS)) {
    for (const n of [1, 13, 1000, 1001]) {
      it(`${name}: forward and gradient match float64 finite differences (${n} elements)`, async () => {
        const e = await getEngine();
        // stay away from the kinks of ReLU/LeakyReLU so finite differences are valid
        const xs = Array.from(randArray(n, n + 3, -6, 6), (v) => (Math.abs(v) < 1e-3 ? 0.5 : v));
        const gys = randArray(n, n + 7);
        const x = leaf(e, xs, [n]);
        const y = op(x);
        const gy = e.tensor(gys, [n]);
        backward(y, gy);
        expect(relErr(await y.read(), xs.map(ref))).toBeLessThan(1e-6);
        const num = numericGrad((v) => Array.from(v, ref), Float64Array.from(xs), gys);
        expect(relErr(await x.grad!.read(), num)).toBeLessThan(1e-5);
      });
    }
  }

  it('writes every element, f16 included', async () => {
    const e = await getEngine();
    const xs = randArray(777, 5, -4, 4);
    const x = e.tensor(xs, [777]);
    poisonNext(e, [777]);
    const y = silu(x);
    expect(relErr(await y.read(), Array.from(xs, (v) => v * sigmoid64(v)))).toBeLessThan(1e-6);
    if (e.gpu.hasF16) {
      const h = e.tensor(xs, [777], 'f16');
      poisonNext(e, [777], 'f16');
      const yh2 = sigmoid(h);
      expect(relErr(await yh2.read(), Array.from(xs, sigmoid64))).toBeLessThan(2e-3);
    }
  });
});
