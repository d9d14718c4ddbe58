// A tiny flow network learns one image/mask pair until Euler sampling from fixed noise reproduces the image, and a
// short training run through FlowTrainer lowers the loss.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/autograd/tape.js';
import { PairSource } from '../../src/data/datasets.js';
import { CounterRng } from '../../src/data/mix.js';
import { flowLoss, logitNormalTimes } from '../../src/flow/rectified.js';
import { eulerSample } from '../../src/flow/sample.js';
import { FlowTrainer, freshFlowUNet } from '../../src/flow/train-node.js';
import { Adam } from '../../src/nn/optim/optimizer.js';
import { normal } from '../../src/tensor/math.js';
import { getEngine } from '../helpers.js';
import { TINY, tinyPair } from './tiny.js';

describe('flow training', () => {
  it('overfits one pair: a sample from fixed noise reproduces the image', async () => {
    const e = await getEngine();
    const S = 8;
    const net = freshFlowUNet(e, TINY, 7);
    const { image, mask } = tinyPair(S);
    const shape = [4, 1, S, S, S];
    const n = S * S * S;
    const x1h = new Float32Array(4 * n);
    const mh = new Float32Array(4 * n);
    for (let b = 0; b < 4; b++) {
      x1h.set(image.map((v) => v * 2 - 1), b * n);
      mh.set(mask, b * n);
    }
    const x1 = e.keep(e.tensor(x1h, shape));
    const m = e.keep(e.tensor(mh, shape));
    const opt = new Adam(net.parameters(), { lr: 2e-3 });
    const rng = new CounterRng(3);
    const t0 = performance.now();
    const losses: number[] = [];
    const steps = Number(process.env.FLOW_OVERFIT_STEPS ?? 120);
    for (let s = 0; s < steps; s++) {
      const l = e.scope(() => {
        const x0 = normal(e, shape, 0, 1, 11, s * 4 * n);
        const loss = flowLoss(net, x1, m, x0, logitNormalTimes(rng, 4), [1, 1, 1, 1]);
        backward(loss);
        opt.step();
        opt.zeroGrad();
        return loss;
      });
      if (s % 25 === 0 || s === steps - 1) losses.push(await l.item());
      l.dispose();
    }
    console.log(`overfit: ${steps} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s; loss ${losses.map((v) => v.toFixed(3)).join(' ')}`);
    const mean = image.reduce((a, b) => a + b, 0) / n;
    const variance = image.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    const one = [1, 1, S, S, S];
    const mk = e.tensor(mask, one);
    let worst = 0;
    for (const seed of [100, 101]) {
      const x0 = normal(e, one, 0, 1, seed);
      const out = (await (await eulerSample(net, mk, [1], x0, { steps: 20 })).read()) as Float32Array;
      const mse = out.reduce((a, v, i) => a + (v - image[i]) ** 2, 0) / n;
      worst = Math.max(worst, mse);
      console.log(`sample from seed ${seed}: MSE ${mse.toExponential(2)} vs image variance ${variance.toExponential(2)}`);
    }
    expect(worst).toBeLessThan(0.1 * variance);
    opt.dispose();
    net.dispose();
  }, 900_000);

  it('FlowTrainer: the loss falls over a short run', async () => {
    const e = await getEngine();
    const S = 8;
    const pairs = [0, 1].map((k) => {
      const { image, mask } = tinyPair(S);
      return { name: String(k), shape: [S, S, S] as [number, number, number], image: k ? image.map((v) => 1 - v) : image, label: Uint8Array.from(mask) };
    });
    const net = freshFlowUNet(e, TINY, 5);
    const tr = FlowTrainer.start(e, net, PairSource.fromArrays('t', pairs), [0, 2], { size: S, batch: 2, lr: 2e-3, seed: 1, emaDecay: 0.995, emaEvery: 10, emaStart: 2000, pDrop: 0.1, augment: true });
    const losses: number[] = [];
    for (let s = 0; s < 60; s++) losses.push((await tr.trainStep()).loss);
    const head = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
    const tail = losses.slice(-10).reduce((a, b) => a + b) / 10;
    console.log(`trainer: mean loss first 10 ${head.toFixed(3)}, last 10 ${tail.toFixed(3)}`);
    expect(tail).toBeLessThan(0.6 * head);
    expect(tr.step).toBe(60);
    tr.dispose();
    net.dispose();
  }, 900_000);
});
