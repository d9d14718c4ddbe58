// Rectified flow: interpolation, target and MSE against a float64 CPU reference; time sampling and label dropout
// statistics; the Euler sampler against a CPU re-run of its update from the network's own velocities (with and
// without classifier-free guidance); sampling determinism.
import { describe, expect, it } from 'vitest';
import { noGrad } from '../../src/autograd/tape.js';
import { CounterRng } from '../../src/data/mix.js';
import { dropLabels, flowLoss, interpolate, logitNormalTimes } from '../../src/flow/rectified.js';
import { eulerSample, velocity } from '../../src/flow/sample.js';
import { freshFlowUNet } from '../../src/flow/train-node.js';
import { getEngine, randArray, relErr } from '../helpers.js';
import { TINY } from './tiny.js';

const S = 8;
const n = S * S * S;

describe('rectified flow', () => {
  it('x_t, target and loss equal a float64 CPU reference', async () => {
    const e = await getEngine();
    const B = 3;
    const shape = [B, 1, S, S, S];
    const x1 = randArray(B * n, 1);
    const x0 = randArray(B * n, 2, -2, 2);
    const m = Float64Array.from(randArray(B * n, 3, 0, 1), (v) => (v > 0.7 ? 1 : 0));
    const t = [0.13, 0.5, 0.91];
    const T1 = e.tensor(Float32Array.from(x1), shape);
    const T0 = e.tensor(Float32Array.from(x0), shape);
    const M = e.tensor(Float32Array.from(m), shape);
    const { xt, target } = interpolate(T1, T0, t);
    const xtRef = new Float64Array(B * n);
    const tgRef = new Float64Array(B * n);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < n; i++) {
        const k = b * n + i;
        xtRef[k] = t[b] * x1[k] + (1 - t[b]) * x0[k];
        tgRef[k] = x1[k] - x0[k];
      }
    expect(relErr(await xt.read(), xtRef)).toBeLessThan(1e-6);
    expect(relErr(await target.read(), tgRef)).toBeLessThan(1e-6);
    const net = freshFlowUNet(e, TINY, 3);
    // give the zero-initialised output conv weights so that v is not all zeros
    e.rt.write(net.out.stateDict().get('2.weight')!.buffer, 0, Float32Array.from(randArray(32 * 27, 9, -0.05, 0.05)));
    net.eval();
    const y = [0, -1, 3];
    const v = (await noGrad(() => net.forward(xt, M, t, y)).read()) as Float32Array;
    let mse = 0;
    for (let k = 0; k < B * n; k++) mse += (v[k] - tgRef[k]) ** 2;
    mse /= B * n;
    const loss = await noGrad(() => flowLoss(net, T1, M, T0, t, y)).item();
    expect(Math.abs(loss - mse) / mse).toBeLessThan(1e-5);
    net.dispose();
  });

  it('logit-normal times and 10 % label dropout', () => {
    const rng = new CounterRng(42);
    const t = logitNormalTimes(rng, 20000);
    const z = t.map((v) => Math.log(v / (1 - v)));
    const mean = z.reduce((a, b) => a + b) / z.length;
    const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
    expect(t.every((v) => v > 0 && v < 1)).toBe(true);
    const y = dropLabels(rng, new Array<number>(20000).fill(5), 0.1);
    const dropped = y.filter((v) => v === -1).length / y.length;
    expect(Math.abs(dropped - 0.1)).toBeLessThan(0.01);
    expect(y.every((v) => v === -1 || v === 5)).toBe(true);
  });
});

describe('Euler sampling', () => {
  it('is x ← x + v/steps from the network’s velocities, CFG v = (1+w)·v_c − w·v_u, clamped and mapped to [0, 1]', async () => {
    const e = await getEngine();
    const net = freshFlowUNet(e, TINY, 4);
    // Give every zero-initialised layer (the output conv, each residual block's last conv) random weights, or the
    // blocks are identities at initialisation and the class never reaches the output (v_cond = v_uncond would make
    // the guidance check below vacuous).
    let seed = 10;
    for (const [, p] of net.namedParameters()) {
      const v = (await p.read()) as Float32Array;
      if (v.every((x) => x === 0)) e.rt.write(p.buffer, 0, Float32Array.from(randArray(v.length, seed++, -0.3, 0.3)));
    }
    net.eval();
    const shape = [1, 1, S, S, S];
    const mask = e.tensor(Float32Array.from(randArray(n, 5, 0, 1), (v) => (v > 0.6 ? 1 : 0)), shape);
    const x0h = Float32Array.from(randArray(n, 6, -1.5, 1.5));
    const x0 = e.tensor(x0h, shape);
    {
      const vc = (await noGrad(() => net.forward(x0, mask, [0.5], [2])).read()) as Float32Array;
      const vu = (await noGrad(() => net.forward(x0, mask, [0.5], [-1])).read()) as Float32Array;
      expect(relErr(vc, vu), 'the class must change the velocity').toBeGreaterThan(1e-3);
    }
    for (const w of [0, 2.5]) {
      const steps = 3;
      // reference: the same steps on the CPU from separately evaluated conditional/unconditional velocities
      let x = Float64Array.from(x0h);
      for (let i = 0; i < steps; i++) {
        const xt = e.tensor(Float32Array.from(x), shape);
        const vc = (await noGrad(() => net.forward(xt, mask, [i / steps], [2])).read()) as Float32Array;
        const vu = (await noGrad(() => net.forward(xt, mask, [i / steps], [-1])).read()) as Float32Array;
        xt.dispose();
        x = x.map((v, k) => v + ((1 + w) * vc[k] - w * vu[k]) / steps);
      }
      const ref = x.map((v) => (Math.min(1, Math.max(-1, v)) + 1) / 2);
      const got = (await (await eulerSample(net, mask, [2], x0, { steps, guidance: w })).read()) as Float32Array;
      const err = relErr(got, ref);
      expect(err, `w = ${w}`).toBeLessThan(1e-5);
      expect(got.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
    // the guided velocity of one batched call equals its definition
    const vg = (await noGrad(() => velocity(net, x0, mask, 0.25, [1], 3)).read()) as Float32Array;
    const vc = (await noGrad(() => net.forward(x0, mask, [0.25], [1])).read()) as Float32Array;
    const vu = (await noGrad(() => net.forward(x0, mask, [0.25], [-1])).read()) as Float32Array;
    expect(relErr(vg, Array.from(vc, (v, k) => 4 * v - 3 * vu[k]))).toBeLessThan(1e-5);
    net.dispose();
  });

  it('is deterministic: the same weights, mask, class, noise, steps and guidance give the same sample', async () => {
    const e = await getEngine();
    const net = freshFlowUNet(e, TINY, 8);
    e.rt.write(net.out.stateDict().get('2.weight')!.buffer, 0, Float32Array.from(randArray(32 * 27, 11, -0.3, 0.3)));
    const shape = [1, 1, S, S, S];
    const mask = e.tensor(Float32Array.from(randArray(n, 7, 0, 1), (v) => (v > 0.5 ? 1 : 0)), shape);
    const run = async (seed: number) => {
      const { normal } = await import('../../src/tensor/math.js');
      const x0 = normal(e, shape, 0, 1, seed);
      return (await (await eulerSample(net, mask, [3], x0, { steps: 4, guidance: 1 })).read()) as Float32Array;
    };
    const a = await run(5);
    const b = await run(5);
    const c = await run(6);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(relErr(a, c)).toBeGreaterThan(1e-3);
    net.dispose();
  });
});
